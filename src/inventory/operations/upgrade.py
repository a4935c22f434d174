"""Schema upgrades that never lose data: an installation holding data is backed up first."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from inventory.db import migrate
from inventory.db.session import Database
from inventory.errors import DomainError, InsufficientStorage
from inventory.operations import backup, restore
from inventory.settings import Settings

log = logging.getLogger(__name__)


def upgrade_schema(*, settings: Settings, database: Database) -> Path | None:
    """Bring the schema to the newest revision. When that changes an installation holding
    data, a backup is written first (a failed backup stops the upgrade); returns its path."""
    if migrate.is_current(database.engine):
        return None
    safety: Path | None = None
    if not restore.is_empty(database):
        revision = migrate.current_revision(database.engine)
        stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
        safety = settings.backups_path / f"before-upgrade-from-{revision}-{stamp}.tar"
        log.info("schema %s is older than the app's: backing up to %s first", revision, safety)
        try:
            backup.backup(settings=settings, database=database, output=safety)
        except (OSError, DomainError) as exc:
            raise InsufficientStorage(
                f"the schema needs an upgrade and the backup taken before it failed ({exc}); "
                f"nothing was changed: free space or fix {safety.parent}, then start again"
            ) from exc
    migrate.upgrade(database.engine)
    return safety
