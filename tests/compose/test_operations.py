"""Operations on the running stack: a backup taken inside it, the scheduled backup service
with its rotation, and a rolling update (scripts/update.sh) under steady traffic.

Each test leaves one healthy app replica behind for the tests after it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from inventory.operations import backup
from tests.compose.client import Client
from tests.compose.conftest import FIGURES, ROOT, Stack

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]

BACKUPS = "/var/lib/inventory/backups"


def _item_with_photo(admin: Client, name: str) -> int:
    made = admin.api("POST", "/api/v1/items", {"name": name, "location": "Ops/Shelf"})
    assert made.status == 201, made.body[:300]
    item_id: int = made.json()["id"]
    uploaded = admin.upload_photo(item_id, "ops.jpg")
    assert uploaded.status == 201, uploaded.body[:300]
    return item_id


def _copy_out(stack: Stack, service: str, path: str, target: Path) -> Path:
    container = stack.containers(service)[0]
    subprocess.run(["docker", "cp", f"{container}:{path}", str(target)], check=True)
    return target


def _archives(stack: Stack) -> list[str]:
    listing = stack.exec("inventory-app", "ls", "-1", BACKUPS)
    return sorted(name for name in listing.split() if name.startswith("inventory-backup-"))


def test_backup_inside_the_stack(stack: Stack, admin: Client, tmp_path: Path) -> None:
    _item_with_photo(admin, "Backed-up lantern")
    out = stack.exec("inventory-app", "inventory", "backup")
    written = re.search(r"wrote (\S+\.tar)", out)
    assert written, out
    archive = _copy_out(stack, "inventory-app", written.group(1), tmp_path / "stack.tar")
    # The database image's own pg_dump made it, and every member's checksum holds.
    manifest = backup.verify(archive)
    assert manifest["counts"]["items"] >= 1
    assert manifest["counts"]["photos"] >= 1
    FIGURES["backup inside the stack, bytes"] = archive.stat().st_size


def test_backup_service_keeps_the_newest(stack: Stack, admin: Client, tmp_path: Path) -> None:
    every, keep = 2, 2
    scheduled = dataclasses.replace(
        stack,
        env={**stack.env, "BACKUP_INTERVAL": f"{every}s", "BACKUP_KEEP": str(keep)},
    )
    scheduled.compose("--profile", "backup", "up", "-d", "--no-recreate", "backup")
    try:
        deadline = time.monotonic() + 120
        rounds = 0
        while time.monotonic() < deadline and rounds < keep + 2:
            logs = scheduled.compose("--profile", "backup", "logs", "--no-color", "backup")
            rounds = logs.stdout.count("backup written to")
            time.sleep(1)
        assert rounds >= keep + 2, logs.stdout[-3000:]
    finally:
        scheduled.compose("--profile", "backup", "rm", "--stop", "--force", "backup")
    archives = _archives(stack)
    assert len(archives) == keep, archives
    newest = _copy_out(stack, "inventory-app", f"{BACKUPS}/{archives[-1]}", tmp_path / "n.tar")
    assert backup.verify(newest)["counts"]["photos"] >= 1


class SteadyTraffic:
    """Clients reading and writing through nginx until stopped; every answer is recorded."""

    def __init__(self, admin: Client, clients: int = 3) -> None:
        self.admin = admin
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.failures: list[str] = []
        self.created: list[int] = []
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(clients)]

    def __enter__(self) -> SteadyTraffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _run(self, number: int) -> None:
        client = dataclasses.replace(self.admin, cookies=dict(self.admin.cookies))
        step = 0
        while not self.stop.is_set():
            step += 1
            try:
                method = "POST" if step % 5 == 0 else "GET"
                if method == "POST":
                    reply = client.api(
                        "POST",
                        "/api/v1/items",
                        {"name": f"roll {number}-{step}", "location": "Roll"},
                    )
                    if reply.status == 201:
                        self.created.append(reply.json()["id"])
                else:
                    reply = client.get(
                        "/api/v1/items?per_page=5", headers={"Accept": "application/json"}
                    )
                self.statuses.append(reply.status)
                if not 200 <= reply.status < 300:
                    self.failures.append(f"{method} {reply.status} {reply.body[:200]!r}")
            except OSError as exc:
                self.failures.append(f"{method} {exc!r}")


def test_rolling_update_loses_no_request(stack: Stack, admin: Client) -> None:
    before = set(stack.containers("inventory-app"))
    env = {
        **stack.env,
        "COMPOSE_FILE": os.pathsep.join(str(ROOT / name) for name in stack.files),
    }
    started = time.monotonic()
    with SteadyTraffic(admin) as traffic:
        time.sleep(2)
        update = subprocess.run(
            ["bash", str(ROOT / "scripts" / "update.sh")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        time.sleep(2)
    FIGURES["rolling update s"] = round(time.monotonic() - started, 1)
    FIGURES["requests during the rolling update"] = len(traffic.statuses)
    assert update.returncode == 0, update.stdout + update.stderr
    after = set(stack.containers("inventory-app"))
    assert len(after) == len(before)
    assert not after & before, "the old replicas are still running"
    assert len(traffic.statuses) > 50
    assert traffic.failures == [], traffic.failures[:10]
    # Every write that was acknowledged is there, served by the new replica.
    for item_id in traffic.created:
        assert admin.get(f"/api/v1/items/{item_id}").status == 200, item_id
