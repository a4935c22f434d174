"""The Pi's `environment.env` turned into the Docker stack's `.env`.

Standard library only, so `scripts/migrate-from-pi.sh` can run this file with any python3 on
the Docker host (`python3 pi_env.py convert PI_ENV OUT` / `python3 pi_env.py libpq PI_ENV`).
Secrets are kept as they are but never printed: notes name them, never show their values.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Where the app container keeps things (docker-compose.yml mounts the volumes there).
CONTAINER_DATA = "/var/lib/inventory"
CONTAINER_PATHS = {
    "IMAGE_DIR": f"{CONTAINER_DATA}/images",
    "TRANSFORMERS_CACHE": f"{CONTAINER_DATA}/ml_cache",
    "HF_HOME": f"{CONTAINER_DATA}/ml_cache",
    "INVENTORY_DATA_DIR": CONTAINER_DATA,
}
# The Pi's device certificate belongs in the config volume inside the stack.
CERT_DIR = f"{CONTAINER_DATA}/config"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
# Same list as settings.PLACEHOLDER_SECRETS (this file imports nothing from the package).
PLACEHOLDERS = {
    "change-me",
    "changeme",
    "inventory_docker_secret_key_change_in_production",
    "replace-with-a-long-random-string",
}
MIN_SECRET_LENGTH = 32
_SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY")
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_PLAIN = re.compile(r"^[A-Za-z0-9_./:@+,%-]*$")


class EnvError(ValueError):
    """The env file cannot be read; the message names the line."""


def is_secret(name: str) -> bool:
    return any(word in name for word in _SECRET_WORDS) and not name.endswith("_FILE")


def parse(text: str, source: str = "environment.env") -> list[tuple[str, str]]:
    """KEY=VALUE lines (`export`, quotes and comments allowed), in order; the last one wins."""
    pairs: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise EnvError(f"{source} line {number}: not a NAME=value line")
        name, value = match.groups()
        pairs[name] = _unquote(value, f"{source} line {number}")
    return list(pairs.items())


def _unquote(value: str, where: str) -> str:
    if value[:1] in {"'", '"'}:
        quote = value[0]
        end = value.find(quote, 1)
        while quote == '"' and end > 0 and value[end - 1] == "\\":
            end = value.find(quote, end + 1)
        if end < 0:
            raise EnvError(f"{where}: the quote is never closed")
        inner = value[1:end]
        return inner.replace('\\"', '"').replace("\\\\", "\\") if quote == '"' else inner
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


@dataclass
class Converted:
    pairs: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)

    def get(self, name: str, default: str = "") -> str:
        return dict(self.pairs).get(name, default)


def convert(pairs: Sequence[tuple[str, str]]) -> Converted:
    """The stack's settings from the Pi's: the database is the `postgres` service, paths are
    the container's, secrets are kept (a placeholder SECRET_KEY is replaced)."""
    values = dict(pairs)
    out: dict[str, str] = {}
    notes: list[str] = []
    for name, value in values.items():
        if name == "POSTGRES_HOST":
            if value not in LOCAL_HOSTS:
                notes.append(
                    f"POSTGRES_HOST was {value}: the stack uses its own postgres service "
                    "(the data is copied into it)"
                )
            out[name] = "postgres"
        elif name == "POSTGRES_PORT":
            out[name] = "5432"  # the service's port inside the network
        elif name in CONTAINER_PATHS:
            if value != CONTAINER_PATHS[name]:
                notes.append(f"{name}: {value} -> {CONTAINER_PATHS[name]}")
            out[name] = CONTAINER_PATHS[name]
        elif name == "CF_DEVICE_CERT_PATH" and value:
            inside = f"{CERT_DIR}/{Path(value).name}"
            notes.append(
                f"CF_DEVICE_CERT_PATH: {value} -> {inside}; copy the certificate from the Pi "
                "into the config volume"
            )
            out[name] = inside
        elif name.endswith("_FILE"):
            notes.append(f"{name}: {value} is a path on the Pi; make it exist in the container")
            out[name] = value
        else:
            out[name] = value
    for name in ("POSTGRES_USER", "POSTGRES_DB"):
        out.setdefault(name, {"POSTGRES_USER": "inventory", "POSTGRES_DB": "inventory_db"}[name])
    secret = out.get("SECRET_KEY", "")
    if "SECRET_KEY_FILE" not in out and (
        secret.strip().lower() in PLACEHOLDERS or len(secret) < MIN_SECRET_LENGTH
    ):
        out["SECRET_KEY"] = secrets.token_urlsafe(48)
        notes.append(
            "SECRET_KEY was missing, the placeholder or too short for production: generated "
            "a new one (everyone signs in again)"
        )
    if not out.get("POSTGRES_PASSWORD") and "POSTGRES_PASSWORD_FILE" not in out:
        notes.append("POSTGRES_PASSWORD is empty: set one in .env before the first start")
    return Converted(list(out.items()), notes)


def render(converted: Converted, source: str = "the Pi's environment.env") -> str:
    lines = [
        f"# Converted from {source} by scripts/migrate-from-pi.sh.",
        "# Holds secrets: keep it private (mode 600) and out of version control.",
    ]
    lines += [f"{name}={_quote(value)}" for name, value in converted.pairs]
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    if _PLAIN.match(value):
        return value
    if "'" not in value and "\n" not in value:
        return f"'{value}'"  # single quotes: Compose takes the value literally (no $ expansion)
    raise EnvError("a value holds both a single quote and other special characters")


def describe(converted: Converted) -> list[str]:
    """What the .env holds, for people: secrets appear as (kept), never their values."""
    return [
        f"  {name}=" + ("(secret, kept)" if is_secret(name) else value)
        for name, value in converted.pairs
    ]


def libpq(pairs: Sequence[tuple[str, str]]) -> str:
    """PG* lines for pg_dump on the Pi, read from its own settings (sent over SSH's stdin, so
    the password is on no command line)."""
    values = dict(pairs)
    lines = {
        "PGHOST": values.get("POSTGRES_HOST") or "localhost",
        "PGPORT": values.get("POSTGRES_PORT") or "5432",
        "PGUSER": values.get("POSTGRES_USER") or "inventory",
        "PGDATABASE": values.get("POSTGRES_DB") or "inventory_db",
        "PGPASSWORD": values.get("POSTGRES_PASSWORD", ""),
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items() if v)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only, replacing it in one step (not
    inventory.files.write_atomically: this file runs on its own, with the standard library)."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temp, path)


def main(argv: Sequence[str]) -> int:
    usage = "usage: pi_env.py convert PI_ENV OUT | pi_env.py libpq PI_ENV"
    if len(argv) < 2 or argv[0] not in {"convert", "libpq"}:
        print(usage, file=sys.stderr)
        return 2
    source = Path(argv[1])
    try:
        pairs = parse(source.read_text(), source.name)
        if argv[0] == "libpq":
            sys.stdout.write(libpq(pairs))
            return 0
        if len(argv) != 3:
            print(usage, file=sys.stderr)
            return 2
        converted = convert(pairs)
        write_private(Path(argv[2]), render(converted))
    except (OSError, EnvError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {argv[2]}:")
    print("\n".join(describe(converted)))
    for note in converted.notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
