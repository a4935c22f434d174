"""When backups happen by themselves: before a schema upgrade of an installation with data,
and on a schedule that keeps the newest N archives."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from inventory.db import embedded, migrate
from inventory.db.session import Database
from inventory.errors import InsufficientStorage, InvalidInput
from inventory.operations import backup, schedule, upgrade
from inventory.settings import Settings


@pytest.fixture
def older_install(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Settings, Database]]:
    """An installation one release behind: its own database at the first schema revision."""
    name = "policy_" + request.node.name.lower()[:40]
    database = Database(embedded.start(settings.data_dir / "postgres", name))
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(database.engine, "0001")
    yield replace(settings, data_dir=tmp_path / "data", image_dir=tmp_path / "images"), database
    database.close()


def _add_user(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'admin')")
        )


def test_pending_migration_on_data_is_backed_up_first(
    older_install: tuple[Settings, Database],
) -> None:
    settings, database = older_install
    _add_user(database)
    safety = upgrade.upgrade_schema(settings=settings, database=database)
    assert safety is not None
    assert safety.parent == settings.data_dir / "backups"
    manifest = backup.verify(safety)
    assert manifest["schema_revision"] == "0001"  # the state before the upgrade
    assert manifest["counts"]["users"] == 1
    assert migrate.is_current(database.engine)
    # Nothing pending any more: no second backup.
    assert upgrade.upgrade_schema(settings=settings, database=database) is None


def test_a_fresh_install_upgrades_without_a_backup(
    older_install: tuple[Settings, Database],
) -> None:
    settings, database = older_install
    assert upgrade.upgrade_schema(settings=settings, database=database) is None
    assert migrate.is_current(database.engine)
    assert not (settings.data_dir / "backups").exists()


def test_a_failed_backup_stops_the_upgrade(older_install: tuple[Settings, Database]) -> None:
    settings, database = older_install
    _add_user(database)
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / "backups").write_text("a file where the backups folder should be")
    with pytest.raises(InsufficientStorage, match="nothing was changed"):
        upgrade.upgrade_schema(settings=settings, database=database)
    assert migrate.current_revision(database.engine) == "0001"


def test_rotation_keeps_the_newest_scheduled_archives_only(tmp_path: Path) -> None:
    names = [f"inventory-backup-2026010{day}-030000.tar" for day in range(1, 6)]
    for name in [*names, "before-upgrade-from-0001-20260101-000000.tar", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    removed = schedule.prune(tmp_path, keep=2)
    assert sorted(path.name for path in removed) == names[:3]
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == sorted([*names[3:], "before-upgrade-from-0001-20260101-000000.tar", "notes.txt"])


@pytest.mark.parametrize(
    ("text_value", "expected"),
    [("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7))],
)
def test_intervals(text_value: str, expected: timedelta) -> None:
    assert schedule.parse_interval(text_value) == expected


@pytest.mark.parametrize("bad", ["", "0h", "daily", "5", "-1h", "1w"])
def test_bad_intervals_are_named(bad: str) -> None:
    with pytest.raises(InvalidInput, match=repr(bad)):
        schedule.parse_interval(bad)
