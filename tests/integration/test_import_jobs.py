"""No import request can run into the worker timeout: through a real Gunicorn server, a
20,000-row import answers 202 at once and runs as a job with progress; its worker killed
midway, nothing is half-applied and the job is retried to a whole import."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from inventory.db import embedded
from inventory.db.session import Database
from inventory.settings import Settings
from tests.helpers import run_inventory, wait_until
from tests.ports import free_port

ROWS = 20_000


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Any:
    name = f"jobs_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "INVENTORY_DATA_DIR": str(settings.data_dir),
        "POSTGRES_DB": name,
        "SECRET_KEY": "jobs-test-secret-" + "z" * 40,
        "EMBEDDING_MODEL": str(tmp_path / "no-model"),  # keyword search: no embedding work
        "JOB_STALE_SECONDS": "5",
    }
    assert run_inventory(env, "db", "upgrade").returncode == 0
    created = run_inventory(
        env,
        "user",
        "create",
        "--username",
        "mover",
        "--role",
        "editor",
        "--password-stdin",
        stdin="a long moving-in password\n",
    )
    assert created.returncode == 0, created.stderr
    token = run_inventory(env, "token", "create", "--username", "mover").stdout.strip()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    database = Database(embedded.start(settings.data_dir / "postgres", name))

    def healthy() -> bool:
        try:
            return bool(_call(base, token, "GET", "/health"))
        except OSError:
            return False

    try:
        wait_until(healthy, what="the server to answer", within=90, every=0.3)
        yield base, token, database
    finally:
        process.terminate()
        process.wait(timeout=30)
        database.close()


def _call(
    base: str,
    token: str,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str | None = None,
) -> Any:
    request = urllib.request.Request(base + path, data=body, method=method)  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return response.status, dict(response.headers), json.load(response)


def _multipart(data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _count(database: Database, sql: str) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


@pytest.mark.slow
def test_20000_rows_as_a_job_survive_the_worker_being_killed(server: Any) -> None:
    base, token, database = server
    rows = "".join(
        f"Karton {n:05d} – Küche,{n % 9 + 1},Keller/Regal {n % 60}/Fach {n % 7},"
        f"umzug;kiste {n % 5}\n"
        for n in range(ROWS)
    )
    body, content_type = _multipart(("name,quantity,location,tags\n" + rows).encode())
    started = time.monotonic()
    status, headers, _ = _call(base, token, "POST", "/api/v1/transfer/import", body, content_type)
    answered = time.monotonic() - started
    assert status == 202
    assert answered < 15, f"the import request took {answered:.1f} s"
    location = headers["Location"]
    job_id = int(location.rsplit("/", 1)[1])

    seen_progress: list[float] = []

    def writing() -> bool:
        current = _call(base, token, "GET", location)[2]
        seen_progress.append(current["progress"])
        assert _count(database, "SELECT count(*) FROM items") in (0, ROWS)
        return bool(current["status"] == "running" and current["progress"] >= 0.55)

    wait_until(writing, what="the job to start writing", within=240, every=0.2)
    worker = _count(
        database, f"SELECT split_part(worker, ':', 2)::int FROM jobs WHERE id = {job_id}"
    )
    os.kill(worker, signal.SIGKILL)
    assert _count(database, "SELECT count(*) FROM items") == 0

    def finished() -> bool:
        current = _call(base, token, "GET", location)[2]
        assert _count(database, "SELECT count(*) FROM items") in (0, ROWS)
        return current["status"] in ("done", "failed")

    wait_until(finished, what="the retried job to end", within=400, every=0.5)
    final = _call(base, token, "GET", location)[2]
    assert final["status"] == "done", final["errors"]
    assert final["attempts"] == 2
    assert final["result"]["created"] == ROWS
    assert 0 < max(seen_progress) < 1
    assert _count(database, "SELECT count(*) FROM items") == ROWS
    assert _count(database, "SELECT count(*) FROM item_history WHERE action = 'created'") == ROWS
    assert _count(database, "SELECT count(DISTINCT asset_id) FROM items") == ROWS
