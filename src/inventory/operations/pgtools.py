"""The PostgreSQL client tools (pg_dump, pg_restore, psql) run against the app's database,
with libpq's variables so that no password shows in a process list."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from inventory.db.session import Database
from inventory.errors import InvalidInput

_PR_SET_PDEATHSIG = 1


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore / psql: PostgreSQL 16's own, shipped with pgserver, else PATH."""
    try:
        from pgserver._commands import POSTGRES_BIN_PATH

        bundled = Path(POSTGRES_BIN_PATH) / name
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which(name)
    if found is None:
        raise InvalidInput(f"{name} is not installed; it is needed for backups")
    return found


def client_env(database: Database) -> dict[str, str]:
    """libpq's variables for the app's database: the password never shows in a process list."""
    url = make_url(database.url)
    env = {**os.environ, "PGDATABASE": url.database or "", "PGUSER": url.username or ""}
    host = url.query.get("host") or url.host
    port = url.query.get("port") or url.port
    if host:
        env["PGHOST"] = str(host)
    if port:
        env["PGPORT"] = str(port)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def die_with_parent() -> None:
    """In the child: be killed when the process that started it dies (even by SIGKILL), so an
    interrupted restore cannot leave psql running on to a commit."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_tool(
    command: list[str], database: Database, *, kill_with_parent: bool = False, **kwargs: Any
) -> None:
    result = subprocess.run(  # noqa: S603 - fixed tools, arguments built here
        command,
        env=client_env(database),
        capture_output=True,
        check=False,
        # Only from the single-threaded restore command: preexec_fn and threads do not mix.
        preexec_fn=die_with_parent if kill_with_parent else None,
        **kwargs,
    )
    if result.returncode != 0:
        error = result.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidInput(f"{Path(command[0]).name} failed: {error[-1] if error else 'no output'}")


def dump_problem(dump: Path, stderr: str) -> str:
    """pg_restore's complaint about `dump`, as a sentence that says what to do."""
    lines = [line.removeprefix("pg_restore: ") for line in stderr.strip().splitlines()]
    last = lines[-1] if lines else "no output"
    if "unsupported version" in stderr:
        return (
            f"{dump.name} was written by a newer pg_dump than this PostgreSQL 16 pg_restore "
            f"can read ({last}); make the dump with pg_dump 16 or older"
        )
    if "input file does not appear to be a valid archive" in stderr:
        return f"{dump.name} is not a pg_dump custom-format archive (make it with pg_dump -Fc)"
    return f"pg_restore cannot read {dump.name}: {last}"
