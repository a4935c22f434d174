"""Backup and restore: the same data comes back, byte for byte; damage is refused up front."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text

from inventory.db import embedded, migrate
from inventory.db.session import Database
from inventory.services import backup
from inventory.services.errors import Conflict, InvalidInput
from inventory.services.image_store import open_store
from inventory.services.photos import referenced_names
from inventory.settings import Settings
from tests.conftest import ApiClient

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
    backup.restore(settings=target_settings, database=target_db, archive_path=result.path)
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
    backup.restore(settings=in_database, database=target_db, archive_path=archive)
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
        backup.restore(settings=target_settings, database=target_db, archive_path=damaged)
    assert migrate.current_revision(target_db.engine) is None  # the target was not touched

    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InvalidInput):
        backup.restore(settings=target_settings, database=target_db, archive_path=truncated)


def test_restore_over_data_needs_force_and_keeps_a_safety_copy(
    settings: Settings, database: Database, admin: ApiClient, tmp_path: Path
) -> None:
    _seed(admin)
    archive = backup.backup(settings=settings, database=database, output=tmp_path / "b.tar").path
    admin.post("/api/v1/items", json={"name": "Made after the backup"})
    with pytest.raises(Conflict, match="--force"):
        backup.restore(settings=settings, database=database, archive_path=archive)
    safety = tmp_path / "safety"
    backup.restore(
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
    backup.restore(settings=old_settings, database=old_db, archive_path=archive)
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
    made = subprocess.run(
        [sys.executable, "-m", "inventory", "backup", "--output", str(archive)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert "2 items" in made.stdout
    assert "Backing up" in made.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "inventory", "restore", str(archive)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "--force" in refused.stderr
