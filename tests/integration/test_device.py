"""Device registration against a real HTTPS server on loopback that demands a client
certificate (certificates made in the test with trustme)."""

from __future__ import annotations

import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import trustme

from inventory.operations import device
from inventory.settings import Settings

TOKEN = "eyJhIjoiMTIzNDU2Nzg5MCIsInQiOiJhYmMifQ=="


@dataclass
class Worker:
    url: str
    ca: trustme.CA
    requests: list[dict[str, Any]]
    reply: Any


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    state = Worker(url="", ca=ca, requests=[], reply=None)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            peer = self.connection.getpeercert()  # type: ignore[attr-defined]
            state.requests.append({"path": self.path, "body": body, "peer": peer})
            reply = state.reply(body) if callable(state.reply) else state.reply
            data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no client certificate, no service
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # trust the test CA, as a real CA is
    state.url = f"https://127.0.0.1:{server.server_port}"
    state.reply = lambda body: {
        "hostname": f"pi-{body['serial']}.example.net",
        "tunnel_token": TOKEN,
    }
    yield state
    server.shutdown()
    server.server_close()


def _device_cert(ca: trustme.CA, folder: Path) -> Path:
    cert = ca.issue_cert("device-10000000abcd1234")
    path = folder / "device.crt"
    cert.private_key_and_cert_chain_pem.write_to_path(str(path))
    return path


def _settings(base: Settings, worker: Worker, cert: Path | None) -> Settings:
    return replace(base, cf_worker_url=worker.url, cf_device_cert_path=cert)


def test_register_stores_hostname_and_token(
    settings: Settings, worker: Worker, tmp_path: Path
) -> None:
    cert = _device_cert(worker.ca, tmp_path)
    config = tmp_path / "config"
    done = device.register(
        settings=_settings(settings, worker, cert), config_dir=config, serial="10000000abcd1234"
    )
    assert done.hostname == "pi-10000000abcd1234.example.net"
    saved = (config / "tunnel.env").read_text()
    assert f"TUNNEL_TOKEN={TOKEN}" in saved
    assert "TUNNEL_HOSTNAME=pi-10000000abcd1234.example.net" in saved
    assert (config / "tunnel.env").stat().st_mode & 0o077 == 0
    sent = worker.requests[0]
    assert sent["path"] == "/register"
    assert sent["body"]["serial"] == "10000000abcd1234"
    names = [value for kind, value in sent["peer"]["subjectAltName"]]
    assert "device-10000000abcd1234" in names  # the server saw the device's own certificate
    again = device.register(
        settings=_settings(settings, worker, cert), config_dir=config, serial="10000000abcd1234"
    )
    assert again.hostname == done.hostname
    assert (config / "tunnel.env").read_text() == saved


def test_certificate_from_another_ca_is_rejected(
    settings: Settings, worker: Worker, tmp_path: Path
) -> None:
    stranger = _device_cert(trustme.CA(), tmp_path)
    with pytest.raises(device.RegistrationFailed, match="certificate"):
        device.register(
            settings=_settings(settings, worker, stranger),
            config_dir=tmp_path,
            serial="10000000abcd1234",
        )
    assert not (tmp_path / "tunnel.env").exists()


def test_missing_certificate_is_named(settings: Settings, worker: Worker, tmp_path: Path) -> None:
    with pytest.raises(device.RegistrationFailed, match="CF_DEVICE_CERT_PATH: no certificate"):
        device.register(
            settings=_settings(settings, worker, tmp_path / "nope.crt"),
            config_dir=tmp_path,
            serial="10000000abcd1234",
        )


def test_unreachable_service_is_named(settings: Settings, worker: Worker, tmp_path: Path) -> None:
    cert = _device_cert(worker.ca, tmp_path)
    gone = replace(settings, cf_worker_url="https://127.0.0.1:9", cf_device_cert_path=cert)
    with pytest.raises(device.RegistrationFailed, match="cannot reach the registration service"):
        device.register(settings=gone, config_dir=tmp_path, serial="10000000abcd1234")


@pytest.mark.parametrize(
    "reply",
    [
        b"<html>oops</html>",
        {"hostname": "pi.example.net"},
        {"hostname": "bad host!", "tunnel_token": TOKEN},
    ],
)
def test_malformed_reply_is_refused(
    settings: Settings, worker: Worker, tmp_path: Path, reply: Any
) -> None:
    worker.reply = reply
    cert = _device_cert(worker.ca, tmp_path)
    with pytest.raises(device.RegistrationFailed, match="registration service"):
        device.register(
            settings=_settings(settings, worker, cert),
            config_dir=tmp_path,
            serial="10000000abcd1234",
        )
    assert not (tmp_path / "tunnel.env").exists()


def test_serial_from_cpuinfo_else_machine_id(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("Hardware\t: BCM2835\nSerial\t\t: 10000000ABCD1234\nModel\t: Pi 4\n")
    machine_id = tmp_path / "machine-id"
    machine_id.write_text("0123456789abcdef0123456789abcdef\n")
    assert device.device_serial(cpuinfo, machine_id) == "10000000abcd1234"
    cpuinfo.write_text("processor\t: 0\n")
    assert device.device_serial(cpuinfo, machine_id) == "0123456789abcdef0123456789abcdef"


def test_cli_register(settings: Settings, worker: Worker, tmp_path: Path) -> None:
    cert = _device_cert(worker.ca, tmp_path)
    env = {
        **os.environ,
        "INVENTORY_DATA_DIR": str(tmp_path / "data"),
        "CF_WORKER_URL": worker.url,
        "CF_DEVICE_CERT_PATH": str(cert),
    }
    result = subprocess.run(
        [sys.executable, "-m", "inventory", "device", "register"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert ".example.net" in result.stdout
    assert TOKEN not in result.stdout + result.stderr
    assert (tmp_path / "data" / "config" / "tunnel.env").exists()
