"""Device registration for the Cloudflare Tunnel: the device proves who it is with its
certificate (mutual TLS) and receives its public host name and a tunnel token.

The exchange (documented in docs/operations.md):
    POST {CF_WORKER_URL}/register   (client certificate: CF_DEVICE_CERT_PATH)
    {"serial": "10000000abcd1234", "app_version": "0.1.0"}
    → 200 {"hostname": "pi-10000000abcd1234.example.net", "tunnel_token": "eyJ…"}
The result is kept in the config folder (tunnel.env, readable by the owner only) for the
compose `tunnel` profile; registering again asks again and rewrites it (idempotent).
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from inventory import __version__
from inventory.errors import DomainError
from inventory.files import write_atomically
from inventory.settings import Settings

TIMEOUT_S = 15
_HOSTNAME = re.compile(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
)
_TOKEN = re.compile(r"^[A-Za-z0-9+/=_.-]{20,4096}$")


class RegistrationFailed(DomainError):
    status = 502
    title = "Device registration failed"


@dataclass(frozen=True)
class Registration:
    serial: str
    hostname: str
    tunnel_token: str
    saved_to: Path


def device_serial(
    cpuinfo: Path = Path("/proc/cpuinfo"), machine_id: Path = Path("/etc/machine-id")
) -> str:
    """The Raspberry Pi's CPU serial, else the machine id: stable across reinstalls of the app."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "serial" and value.strip().strip("0"):
                return value.strip().lower()
    except OSError:
        pass
    try:
        value = machine_id.read_text().strip().lower()
    except OSError:
        value = ""
    if not re.fullmatch(r"[0-9a-f]{16,64}", value):
        raise RegistrationFailed(
            "no device serial: neither /proc/cpuinfo nor /etc/machine-id has one"
        )
    return value


def register(*, settings: Settings, config_dir: Path, serial: str | None = None) -> Registration:
    if settings.cf_worker_url is None:
        raise RegistrationFailed("CF_WORKER_URL is not set: it names the registration service")
    serial = serial or device_serial()
    reply = _post(settings, {"serial": serial, "app_version": __version__})
    hostname, token = _check_reply(reply)
    saved = _save(config_dir, hostname, token)
    return Registration(serial=serial, hostname=hostname, tunnel_token=token, saved_to=saved)


def _tls_context(cert_path: Path | None) -> ssl.SSLContext:
    if cert_path is None:
        raise RegistrationFailed("CF_DEVICE_CERT_PATH is not set: it names the device certificate")
    if not cert_path.is_file():
        raise RegistrationFailed(f"CF_DEVICE_CERT_PATH: no certificate at {cert_path}")
    # The key sits in the same PEM file or beside it as device.key.
    key = cert_path.with_suffix(".key")
    context = ssl.create_default_context()
    try:
        context.load_cert_chain(cert_path, key if key.is_file() else None)
    except (ssl.SSLError, OSError) as exc:
        raise RegistrationFailed(
            f"CF_DEVICE_CERT_PATH: {cert_path} is not a usable certificate and key ({exc})"
        ) from None
    return context


def _post(settings: Settings, body: dict[str, str]) -> bytes:
    url = f"{str(settings.cf_worker_url).rstrip('/')}/register"
    context = _tls_context(settings.cf_device_cert_path)
    request = urllib.request.Request(  # noqa: S310 - https only, checked in settings
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as response:  # noqa: S310
            data: bytes = response.read(64 * 1024)
            return data
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise RegistrationFailed(
                f"the registration service refused this device's certificate ({exc.code})"
            ) from None
        raise RegistrationFailed(f"the registration service answered {exc.code}") from None
    except (ssl.SSLError, ConnectionResetError) as exc:
        raise RegistrationFailed(
            f"TLS with {url} failed; the device certificate may have been rejected ({exc})"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLError):
            raise RegistrationFailed(
                f"TLS with {url} failed; the device certificate may have been rejected ({reason})"
            ) from None
        raise RegistrationFailed(
            f"cannot reach the registration service at {url} ({reason})"
        ) from None


def _check_reply(reply: bytes) -> tuple[str, str]:
    try:
        data = json.loads(reply)
        hostname, token = data["hostname"], data["tunnel_token"]
    except (ValueError, KeyError, TypeError):
        raise RegistrationFailed(
            "the registration service replied with something unexpected "
            "(wanted JSON with hostname and tunnel_token)"
        ) from None
    if not isinstance(hostname, str) or not _HOSTNAME.match(hostname.lower()):
        raise RegistrationFailed(f"the registration service sent an invalid host name {hostname!r}")
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise RegistrationFailed("the registration service sent an invalid tunnel token")
    return hostname.lower(), token


def _save(config_dir: Path, hostname: str, token: str) -> Path:
    """tunnel.env for compose (TUNNEL_TOKEN, TUNNEL_HOSTNAME), written atomically, mode 600."""
    target = config_dir / "tunnel.env"
    write_atomically(target, f"TUNNEL_HOSTNAME={hostname}\nTUNNEL_TOKEN={token}\n", mode=0o600)
    return target
