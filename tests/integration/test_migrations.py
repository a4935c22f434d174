"""The schema's history: the models and the migrations agree, and `inventory db revision`
writes the next migration a developer fills in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from inventory.cli import main
from inventory.db import migrate
from inventory.db.session import Database
from inventory.settings import Settings


def test_the_models_and_the_migrations_agree(database: Database) -> None:
    """A model change without its migration (or the reverse) shows up here."""
    assert migrate.differences(database.engine) == []


@pytest.fixture
def migrations_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The migration scripts copied aside, so a new revision lands there and not in src/."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS", copy)
    migrate.head_revision.cache_clear()
    yield copy
    migrate.head_revision.cache_clear()


def _cli(settings: Settings, *args: str) -> Result:
    env = {"INVENTORY_DATA_DIR": str(settings.data_dir), "SECRET_KEY": settings.secret_key}
    return CliRunner().invoke(main, list(args), env=env)


def test_db_revision_writes_the_next_numbered_migration(
    settings: Settings, database: Database, migrations_copy: Path
) -> None:
    before = migrate.head_revision()
    assert before is not None
    result = _cli(settings, "db", "revision", "-m", "Add a colour to items", "--autogenerate")
    assert result.exit_code == 0, result.output
    number = f"{int(before.split('_')[0]) + 1:04d}"
    written = migrations_copy / "versions" / f"{number}_add_a_colour_to_items.py"
    assert f"wrote {written}" in result.output
    source = written.read_text()
    assert f"down_revision: str | None = {before!r}" in source
    # The models match the schema, so there is nothing to generate.
    upgrade = source.split("def upgrade() -> None:")[1].split("def downgrade")[0]
    assert "op." not in upgrade
    assert "pass" in upgrade
    assert migrate.head_revision() == number


def test_db_revision_autogenerate_needs_a_current_schema(
    settings: Settings, database: Database, migrations_copy: Path
) -> None:
    assert _cli(settings, "db", "revision", "-m", "first").exit_code == 0
    refused = _cli(settings, "db", "revision", "-m", "second", "--autogenerate")
    assert refused.exit_code != 0
    assert "not at the head revision" in refused.output
