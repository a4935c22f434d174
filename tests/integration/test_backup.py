"""Backup and restore: the same data comes back, byte for byte; damage is refused up front."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.engine import make_url

from inventory.db import embedded, migrate
from inventory.db.session import Database
from inventory.errors import Conflict, InvalidInput
from inventory.operations import backup, restore, staging
from inventory.photos.maintenance import referenced_names
from inventory.photos.store import FilesystemStore, open_store
from inventory.settings import Settings
from tests.conftest import ApiClient
from tests.helpers import run_inventory, wait_until

SNAPSHOT = {
    "items": "SELECT asset_id, name, quantity::text, custom_fields::text, version FROM items "
    "ORDER BY asset_id",
    "locations": "SELECT id, name, parent_id FROM locations ORDER BY id",
    "tags": "SELECT i.asset_id, t.name FROM item_tags it JOIN items i ON i.id = it.item_id "
    "JOIN tags t ON t.id = it.tag_id ORDER BY 1, 2",
    "history": "SELECT item_id, actor_name, field, old_value::text, new_value::text "
    "FROM item_history ORDER BY id",
    "users": "SELECT username, role::text, password_hash FROM users ORDER BY username",
    "tokens": "SELECT token_hash, revoked_at IS NULL FROM api_tokens ORDER BY id",
    "photos": "SELECT item_id, key, format, position, is_primary FROM photos ORDER BY id",
}


def _snapshot(database: Database) -> dict[str, list[Any]]:
    with database.engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(text(sql))] for name, sql in SNAPSHOT.items()
        }


def _photo_bytes(settings: Settings, database: Database) -> dict[str, bytes]:
    with database.session() as session:
        store = open_store(settings=settings, session=session)
        return {name: store.get(name) or b"" for name in referenced_names(session)}


@pytest.fixture
def target(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Settings, Database]]:
    """A second, empty installation on the same server: its own database and photo folder."""
    name = "restore_" + request.node.name.lower()[:40].replace("[", "_").replace("]", "")
    url = embedded.start(settings.data_dir / "postgres", name)
    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    yield replace(settings, image_dir=tmp_path / "target-images"), database
    database.close()


def _seed(admin: ApiClient) -> None:
    drill = admin.post(
        "/api/v1/items",
        json={
            "name": "Cordless drill",
            "location": "Home/Garage/Shelf 3",
            "tags": ["tools", "power"],
            "quantity": 2.5,
            "custom_fields": [{"name": "Volt", "type": "number", "value": 20}],
        },
    ).json
    admin.patch(f"/api/v1/items/{drill['id']}", json={"quantity": 3, "notes": "charger in bag"})
    admin.post("/api/v1/items", json={"name": "Tent", "location": "Home/Loft"})
    admin.post(
        "/api/v1/users", json={"username": "sam", "password": "sam's password!", "role": "viewer"}
    )
    photo = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 90, 160)).save(photo, "JPEG")
    response = admin.post(
        f"/api/v1/items/{drill['id']}/photos",
        data={"photos": (io.BytesIO(photo.getvalue()), "drill.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json


def test_backup_then_restore_into_a_fresh_install_gives_the_same_data(
    settings: Settings, database: Database, admin: ApiClient, target: Any, tmp_path: Path
) -> None:
    _seed(admin)
    result = backup.backup(settings=settings, database=database, output=tmp_path / "b.tar")
    manifest = result.manifest
    assert manifest["counts"] == {"items": 2, "locations": 4, "photos": 1, "users": 2}
    assert manifest["schema_revision"] == migrate.head_revision()
    assert all(len(member["sha256"]) == 64 for member in manifest["members"].values())
    with tarfile.open(result.path) as archive:
        config = json.load(archive.extractfile(backup.CONFIG))  # type: ignore[arg-type]
    assert settings.secret_key not in json.dumps(config)

    target_settings, target_db = target
    restore.restore(settings=target_settings, database=target_db, archive_path=result.path)
    assert _snapshot(target_db) == _snapshot(database)
    assert _photo_bytes(target_settings, target_db) == _photo_bytes(settings, database)
    assert migrate.is_current(target_db.engine)


def test_photos_travel_between_storage_methods(
    settings: Settings, database: Database, admin: ApiClient, target: Any, tmp_path: Path
) -> None:
    _seed(admin)
    archive = backup.backup(settings=settings, database=database, output=tmp_path / "b.tar").path
    target_settings, target_db = target
    in_database = replace(target_settings, image_storage_method="database")
    restore.restore(settings=in_database, database=target_db, archive_path=archive)
    assert _photo_bytes(in_database, target_db) == _photo_bytes(settings, database)


def test_a_damaged_member_is_named_and_nothing_is_touched(
    settings: Settings, database: Database, admin: ApiClient, target: Any, tmp_path: Path
) -> None:
    _seed(admin)
    good = backup.backup(settings=settings, database=database, output=tmp_path / "b.tar").path
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(good) as source, tarfile.open(damaged, "w") as copy:
        for member in source:
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.startswith(backup.IMAGES) and member.name.endswith("thumb.webp"):
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
                bad_name = member.name
            copy.addfile(member, io.BytesIO(data))
    target_settings, target_db = target
    with pytest.raises(InvalidInput, match=f"member '{bad_name}' is damaged"):
        restore.restore(settings=target_settings, database=target_db, archive_path=damaged)
    assert migrate.current_revision(target_db.engine) is None  # the target was not touched

    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InvalidInput):
        restore.restore(settings=target_settings, database=target_db, archive_path=truncated)


def test_restore_over_data_needs_force_and_keeps_a_safety_copy(
    settings: Settings, database: Database, admin: ApiClient, tmp_path: Path
) -> None:
    _seed(admin)
    archive = backup.backup(settings=settings, database=database, output=tmp_path / "b.tar").path
    admin.post("/api/v1/items", json={"name": "Made after the backup"})
    with pytest.raises(Conflict, match="--force"):
        restore.restore(settings=settings, database=database, archive_path=archive)
    safety = tmp_path / "safety"
    restore.restore(
        settings=settings, database=database, archive_path=archive, force=True, safety_dir=safety
    )
    names = [row[1] for row in _snapshot(database)["items"]]
    assert "Made after the backup" not in names
    kept = list(safety.glob("inventory-backup-*.tar"))
    assert len(kept) == 1
    assert backup.verify(kept[0])["counts"]["items"] == 3


def test_an_older_schema_is_migrated_after_restore(
    settings: Settings, target: Any, tmp_path: Path
) -> None:
    """A backup taken before the search tables existed comes back on the current schema."""
    old_settings, old_db = target
    migrate.upgrade(old_db.engine, "0001")
    with old_db.engine.begin() as conn:
        conn.execute(text("INSERT INTO items (asset_id, name) VALUES ('000-001', 'Old lamp')"))
    archive = backup.backup(
        settings=old_settings, database=old_db, output=tmp_path / "old.tar"
    ).path
    assert backup.verify(archive)["schema_revision"] == "0001"
    with old_db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    restore.restore(settings=old_settings, database=old_db, archive_path=archive)
    assert migrate.is_current(old_db.engine)
    assert _snapshot(old_db)["items"][0][1] == "Old lamp"


def test_cli_backup_and_restore(settings: Settings, admin: ApiClient, tmp_path: Path) -> None:
    _seed(admin)
    env = {
        **os.environ,
        "INVENTORY_DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": settings.secret_key,
    }
    archive = tmp_path / "cli.tar"
    made = run_inventory(env, "backup", "--output", str(archive))
    assert made.returncode == 0, made.stderr
    assert "2 items" in made.stdout
    assert "Backing up" in made.stderr
    refused = run_inventory(env, "restore", str(archive))
    assert refused.returncode == 2
    assert "--force" in refused.stderr


# ---- a restore killed half-way -------------------------------------------------------------

BIG_ITEMS = 60_000
BIG_PHOTOS = 150


def _seed_big(settings: Settings, database: Database) -> None:
    """Enough rows and photo files that a restore takes a few seconds to load."""
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO items (asset_id, name, description) SELECT 'B' || g, 'Box ' || g,"
                " repeat('cardboard box with cables and spare parts ', 8) "
                "FROM generate_series(1, :n) g"
            ),
            {"n": BIG_ITEMS},
        )
        conn.execute(
            text(
                "INSERT INTO item_history (item_id, actor_name, action) "
                "SELECT id, 'loader', 'create' FROM items"
            )
        )
        item_id = conn.scalar(text("SELECT min(id) FROM items"))
        store = FilesystemStore(settings.images_path)
        for number in range(BIG_PHOTOS):
            key = f"{number:064x}"
            conn.execute(
                text(
                    "INSERT INTO photos (item_id, key, format, width, height, position)"
                    " VALUES (:i, :k, 'webp', 10, 10, :p)"
                ),
                {"i": item_id, "k": key, "p": number},
            )
            for size in ("display", "thumb"):
                store.put(f"{key}-{size}.webp", os.urandom(48_000))


def _restore_process(env: dict[str, str], archive: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "inventory", "restore", str(archive), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _runs_psql(process: subprocess.Popen[bytes]) -> bool:
    return any(name == "psql" for _, name in _children(process.pid))


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        name = fields[0].split("(", 1)[1]
        if int(fields[1].split()[1]) == pid:
            found.append((int(stat.parent.name), name))
    return found


def _kill_when(process: subprocess.Popen[bytes], ready: Any, what: str) -> tuple[float, list[int]]:
    """SIGKILL `process` as soon as `ready()` holds: the seconds it had run and the ids of
    the children it had then (only the process itself is killed)."""
    started = time.monotonic()
    while not ready():
        assert process.poll() is None, f"the restore ended before {what}: make the archive bigger"
        assert time.monotonic() - started < 120, f"never saw {what}"
        time.sleep(0.01)
    children = [pid for pid, _ in _children(process.pid)]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return time.monotonic() - started, children


def _photo_files(settings: Settings) -> dict[str, bytes]:
    """Every file the app could serve from the image folder (its two-level shards)."""
    root = settings.images_path
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*"))
    }


def _wait_gone(pids: list[int]) -> None:
    wait_until(
        lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids),
        what=f"{pids} to end with the restore",
        within=10,
    )


def _cli_env(settings: Settings, target_settings: Settings, target_db: Database) -> dict[str, str]:
    return {
        **os.environ,
        "INVENTORY_DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": settings.secret_key,
        "POSTGRES_DB": make_url(target_db.url).database or "",
        "IMAGE_DIR": str(target_settings.images_path),
    }


def test_a_restore_killed_half_way_leaves_nothing_half_applied(
    settings: Settings, database: Database, target: Any, tmp_path: Path
) -> None:
    _seed_big(settings, database)
    archive = backup.backup(settings=settings, database=database, output=tmp_path / "big.tar").path
    target_settings, target_db = target
    env = _cli_env(settings, target_settings, target_db)
    staged = target_settings.images_path

    # Killed while it copies photos out of the archive: no file reaches the store.
    process = _restore_process(env, archive)
    _kill_when(
        process,
        lambda: any(path.is_file() for path in staged.glob(f"{staging.STAGING_PREFIX}*/*")),
        "photo staging",
    )
    assert migrate.current_revision(target_db.engine) is None
    assert _photo_files(target_settings) == {}

    # Killed while psql loads the dump: its transaction dies with it.
    process = _restore_process(env, archive)
    seconds, children = _kill_when(process, lambda: _runs_psql(process), "psql")
    print(f"killed {seconds:.1f} s into the restore, while psql was loading")
    _wait_gone(children)  # psql dies with it: its transaction is rolled back
    target_db.engine.dispose()
    with target_db.engine.connect() as conn:
        tables = conn.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
    assert tables == 0  # not even the DROP/CREATE SCHEMA was kept
    assert _photo_files(target_settings) == {}

    # Run again: it works, and the abandoned staging folders are gone.
    rerun = run_inventory(env, "restore", str(archive), timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert _snapshot(target_db)["items"] == _snapshot(database)["items"]
    assert _photo_bytes(target_settings, target_db) == _photo_bytes(settings, database)
    assert not list(staged.glob(f"{staging.STAGING_PREFIX}*"))


def test_a_forced_restore_killed_half_way_keeps_the_old_data(
    settings: Settings, database: Database, admin: ApiClient, target: Any, tmp_path: Path
) -> None:
    _seed(admin)
    small = backup.backup(settings=settings, database=database, output=tmp_path / "s.tar").path
    _seed_big(settings, database)
    big = backup.backup(settings=settings, database=database, output=tmp_path / "big.tar").path
    target_settings, target_db = target
    restore.restore(settings=target_settings, database=target_db, archive_path=small)
    before, files_before = _snapshot(target_db), _photo_files(target_settings)
    env = _cli_env(settings, target_settings, target_db)

    process = _restore_process(env, big, "--force")
    _, children = _kill_when(process, lambda: _runs_psql(process), "psql")
    _wait_gone(children)
    target_db.engine.dispose()
    assert _snapshot(target_db) == before
    assert _photo_files(target_settings) == files_before

    rerun = run_inventory(env, "restore", "--force", str(big), timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert len(_snapshot(target_db)["items"]) == BIG_ITEMS + 2
