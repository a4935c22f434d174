"""Typed settings read from the environment, with the deployment's variable names.

`Settings.from_env()` validates everything up front and raises `SettingsError` whose message
is one line naming the variable and what is allowed, so a bad value stops start-up clearly.
Every secret may also be given as `NAME_FILE` (a path, as Docker secrets provide).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

import platformdirs

from inventory.files import write_atomically

# The placeholder shipped in .env.example (and the seed plan); never acceptable in production.
PLACEHOLDER_SECRETS = frozenset(
    {
        "change-me",
        "changeme",
        "inventory_docker_secret_key_change_in_production",
        "replace-with-a-long-random-string",
    }
)
MIN_SECRET_LENGTH = 32
_T = TypeVar("_T", bound=str)

Environment = Literal["production", "development"]
StorageMethod = Literal["filesystem", "database"]
EmbeddingBackend = Literal["onnx", "sentence-transformers"]


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    flask_env: Environment = "development"
    secret_key: str = field(default="", repr=False)
    release: str = "dev"
    postgres_host: str | None = None
    postgres_port: int = 5432
    postgres_user: str = "inventory"
    postgres_password: str = field(default="", repr=False)
    postgres_db: str = "inventory_db"
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("inventory")))
    image_storage_method: StorageMethod = "filesystem"
    image_dir: Path | None = None
    max_upload_mb: int = 20
    # Imports may be larger than a photo: a Homebox backup carries every photo.
    import_max_mb: int = 200
    # A background job whose heartbeat is older than this lost its process: it is retried.
    job_stale_seconds: int = 60
    # Set when nginx serves /images/ from the shared volume (X-Accel-Redirect).
    image_accel_prefix: str | None = None
    transformers_cache: Path | None = None
    hf_home: Path | None = None
    embedding_backend: EmbeddingBackend = "onnx"
    embedding_model: str = "all-MiniLM-L6-v2"
    cf_worker_url: str | None = None
    cf_device_cert_path: Path | None = None
    # How many reverse proxies in front of the app set X-Forwarded-* (nginx in the stack: 1).
    proxy_hops: int = 0
    # JSON lines for log collectors in production, text for people at a terminal.
    log_format: Literal["text", "json"] = "text"

    @property
    def embedded_database(self) -> bool:
        """No POSTGRES_HOST: the app runs its own PostgreSQL under the data directory."""
        return self.postgres_host is None

    @property
    def is_production(self) -> bool:
        return self.flask_env == "production"

    @property
    def images_path(self) -> Path:
        return self.image_dir or self.data_dir / "images"

    @property
    def backups_path(self) -> Path:
        """Where backups go unless told otherwise: scheduled, before upgrades, before restores."""
        return self.data_dir / "backups"

    @property
    def model_cache(self) -> Path:
        return self.transformers_cache or self.hf_home or self.data_dir / "models"

    def database_url(self) -> str:
        """URL of the external server; the embedded one supplies its own (see db.embedded)."""
        if self.postgres_host is None:
            raise SettingsError("POSTGRES_HOST: not set, the embedded database has no fixed URL")
        from sqlalchemy import URL

        return URL.create(
            "postgresql+psycopg",
            username=self.postgres_user,
            password=self.postgres_password or None,
            host=self.postgres_host,
            port=self.postgres_port,
            database=self.postgres_db,
        ).render_as_string(hide_password=False)

    def with_secret_key(self) -> Settings:
        """Development convenience: keep a generated secret in the data directory."""
        if self.secret_key or self.is_production:
            return self
        path = self.data_dir / "secret_key"
        if not path.exists():
            write_atomically(path, secrets.token_urlsafe(48), mode=0o600)
        return replace(self, secret_key=path.read_text().strip())

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = _Reader(os.environ if environ is None else environ)
        settings = cls(
            flask_env=env.choice("FLASK_ENV", ("production", "development"), "development"),
            secret_key=env.secret("SECRET_KEY"),
            release=env.text("RELEASE_CANDIDATE", "dev"),
            postgres_host=env.optional("POSTGRES_HOST"),
            postgres_port=env.integer("POSTGRES_PORT", 5432, 1, 65535),
            postgres_user=env.text("POSTGRES_USER", "inventory"),
            postgres_password=env.secret("POSTGRES_PASSWORD"),
            postgres_db=env.text("POSTGRES_DB", "inventory_db"),
            data_dir=env.path("INVENTORY_DATA_DIR") or cls().data_dir,
            image_storage_method=env.choice(
                "IMAGE_STORAGE_METHOD", ("filesystem", "database"), "filesystem"
            ),
            image_dir=env.path("IMAGE_DIR"),
            max_upload_mb=env.integer("MAX_UPLOAD_MB", 20, 1, 1024),
            import_max_mb=env.integer("IMPORT_MAX_MB", 200, 1, 4096),
            job_stale_seconds=env.integer("JOB_STALE_SECONDS", 60, 5, 3600),
            image_accel_prefix=env.optional("IMAGE_ACCEL_PREFIX"),
            transformers_cache=env.path("TRANSFORMERS_CACHE"),
            hf_home=env.path("HF_HOME"),
            embedding_backend=env.choice(
                "EMBEDDING_BACKEND", ("onnx", "sentence-transformers"), "onnx"
            ),
            embedding_model=env.text("EMBEDDING_MODEL", "all-MiniLM-L6-v2"),
            cf_worker_url=env.url("CF_WORKER_URL"),
            cf_device_cert_path=env.path("CF_DEVICE_CERT_PATH"),
            proxy_hops=env.integer("PROXY_HOPS", 0, 0, 5),
            log_format=env.choice(
                "LOG_FORMAT",
                ("text", "json"),
                "json" if env.optional("FLASK_ENV") == "production" else "text",
            ),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse configurations that must never run."""
        if not self.is_production:
            return
        if not self.secret_key:
            raise SettingsError(
                "SECRET_KEY: required when FLASK_ENV=production "
                f"(set SECRET_KEY or SECRET_KEY_FILE to {MIN_SECRET_LENGTH}+ random characters)"
            )
        if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
            raise SettingsError(
                "SECRET_KEY: still the placeholder from the example env file; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if len(self.secret_key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"SECRET_KEY: too short ({len(self.secret_key)} characters); "
                f"use at least {MIN_SECRET_LENGTH} random characters"
            )


class _Reader:
    """Reads and validates single variables; every error names its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def optional(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def secret(self, name: str) -> str:
        file_name = self.optional(f"{name}_FILE")
        if file_name is None:
            return self.environ.get(name, "")
        if self.environ.get(name):
            raise SettingsError(f"{name}_FILE: set together with {name}; set only one of them")
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE: cannot read {file_name} ({exc.strerror})") from None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise SettingsError(f"{name}: must be a whole number from {low} to {high}, got {raw!r}")
        return value

    def choice(self, name: str, allowed: tuple[_T, ...], default: _T) -> _T:
        raw = self.optional(name)
        if raw is None:
            return default
        for option in allowed:
            if raw.lower() == option:
                return option
        raise SettingsError(f"{name}: must be one of {', '.join(allowed)}, got {raw!r}")

    def path(self, name: str) -> Path | None:
        raw = self.optional(name)
        return Path(raw).expanduser() if raw else None

    def url(self, name: str) -> str | None:
        raw = self.optional(name)
        if raw is None:
            return None
        parts = urlsplit(raw)
        if parts.scheme != "https" or not parts.hostname:
            raise SettingsError(f"{name}: must be an https:// URL, got {raw!r}")
        return raw
