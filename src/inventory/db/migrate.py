"""Alembic, driven from code: `upgrade` runs under a PostgreSQL advisory lock so that
several workers or replicas starting at once never race."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Engine, text

from inventory.db.models import Base

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every process of this app.
MIGRATION_LOCK_KEY = 0x1D_E7_0A_11


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache  # the migration files do not change while the app runs; /health asks often
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; concurrent callers wait for each other."""
    config = alembic_config()
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def differences(engine: Engine) -> list[Any]:
    """What the models declare and the migrated schema lacks (or the other way round): empty
    when models and migrations agree."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def new_revision(engine: Engine, message: str, *, autogenerate: bool) -> Path:
    """Write the next migration file (0001, 0002, … then a slug of `message`); with
    `autogenerate` its operations are what the models declare beyond the schema, which must be
    at the head revision. Returns the new file."""
    head = head_revision()
    if autogenerate and current_revision(engine) != head:
        raise ValueError(f"the database is not at the head revision {head}; upgrade it first")
    config = alembic_config()
    # Revision ids start with their number ("0003" or "0003_imports_and_jobs").
    number = f"{int((head or '0').split('_')[0]) + 1:04d}"
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        script = command.revision(config, message=message, autogenerate=autogenerate, rev_id=number)
    head_revision.cache_clear()
    assert isinstance(script, Script), "one head, so one new script"
    return Path(script.path)
