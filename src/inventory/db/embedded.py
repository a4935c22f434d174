"""The embedded PostgreSQL 16 + pgvector (from the `pgserver` package) used when no
POSTGRES_HOST is set: same schema and code path as an external server, no install needed."""

from __future__ import annotations

import logging
import os
from contextlib import suppress
from pathlib import Path
from typing import Any

from sqlalchemy import URL, create_engine, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from inventory.settings import SettingsError

log = logging.getLogger(__name__)


def start(pgdata: Path, database: str) -> str:
    """Start (or attach to) the server in `pgdata`, make sure `database` exists, return its URL.

    The server stops when the last process that attached to it exits.
    """
    try:
        from pgserver.postgres_server import get_server
    except ImportError:
        raise SettingsError(
            "POSTGRES_HOST: not set, and the embedded PostgreSQL (pgserver) is not installed "
            "or has no build for this machine; point POSTGRES_HOST at a PostgreSQL with pgvector"
        ) from None

    pgdata.mkdir(parents=True, exist_ok=True)
    _forget_dead_processes(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    _create_database(_url(info, "postgres"), database)
    log.info("embedded PostgreSQL running in %s", pgdata)
    return _url(info, database).render_as_string(hide_password=False)


def _forget_dead_processes(pgdata: Path) -> None:
    """pgserver stops the server when the last process in its `.handle_pids.json` exits; a
    process killed outright (SIGKILL, out of memory) never leaves that list, and the server
    would then outlive every later user. Drop the dead ones before attaching."""
    from pgserver.postgres_server import PostgresServer
    from pgserver.utils import DiskList

    attached = DiskList(pgdata / ".handle_pids.json")
    with PostgresServer._lock:
        pids = attached.get()
        alive = [pid for pid in pids if _is_running(pid)]
        if alive != pids:
            attached.put(alive)


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _url(info: Any, database: str) -> URL:
    """A URL over the server's Unix socket (it listens on no TCP address)."""
    return URL.create(
        "postgresql+psycopg",
        username="postgres",
        database=database,
        query={"host": str(info.socket_dir), "port": str(info.port)},
    )


def _create_database(url: URL, database: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
            )
            if not exists:
                quoted = conn.dialect.identifier_preparer.quote(database)
                # Another process may create it in the meantime: that is fine too.
                with suppress(IntegrityError, ProgrammingError):
                    conn.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        engine.dispose()
