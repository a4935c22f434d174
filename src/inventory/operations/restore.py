"""Restore checks every checksum before touching anything, stages the photos beside the store,
replaces the database in a single transaction (all or nothing), moves the staged photos in by
renaming, then migrates an older schema forward (an interrupted upgrade resumes when the app
starts). Killed at any point before the database commit, a restore has changed nothing that
the app reads: the psql child dies with it (the transaction rolls back) and no half-written
file reaches the store; the next restore removes the abandoned staging folder.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from inventory.db import migrate
from inventory.db.models import Item, User
from inventory.db.session import Database
from inventory.errors import Conflict, InvalidInput
from inventory.operations import backup, pgtools, staging
from inventory.settings import Settings


def is_empty(database: Database) -> bool:
    """No users and no items: a fresh installation that a restore may fill."""
    if migrate.current_revision(database.engine) is None:
        return True
    with database.session() as session:
        users = session.scalar(select(func.count()).select_from(User)) or 0
        items = session.scalar(select(func.count()).select_from(Item)) or 0
    return users == 0 and items == 0


def restore(
    *,
    settings: Settings,
    database: Database,
    archive_path: Path,
    force: bool = False,
    safety_dir: Path | None = None,
    progress: backup.Progress | None = None,
) -> dict[str, Any]:
    """Replace the database and photos with the archive's. Refuses a non-empty installation
    unless `force`, and then backs it up into `safety_dir` first. Returns the manifest."""
    manifest = backup.verify(archive_path)
    if not is_empty(database):
        if not force:
            raise Conflict(
                "this installation already has data; restore with --force to "
                "replace it (a backup of it is taken first)"
            )
        target = (safety_dir or settings.backups_path) / backup.default_name()
        backup.backup(settings=settings, database=database, output=target)
    with (
        tempfile.TemporaryDirectory(prefix="inventory-restore-") as work,
        staging.ImageStaging(settings) as staged_images,
        tarfile.open(archive_path, "r") as archive,
    ):
        dump = Path(work) / backup.DUMP
        for member in archive:
            handle = archive.extractfile(member)
            if member.name == backup.DUMP:
                with dump.open("wb") as out:
                    for chunk in backup.chunks(handle):
                        out.write(chunk)
            elif member.name.startswith(backup.IMAGES):
                staged_images.add(backup.check_image_name(member.name), backup.chunks(handle))
                if progress:
                    progress(1)
        restore_dump(database=database, dump=dump)
        staged_images.put_into_store(database)  # renames: a moment, right after the commit
        migrate.upgrade(database.engine)  # an older backup's schema moves forward
    return manifest


def restore_dump(*, database: Database, dump: Path) -> None:
    """Drop everything and load a pg_dump custom-format file in one psql transaction: all of
    it or none. The SQL is written out completely before psql starts (psql would commit a
    script cut short), and psql dies with this process (a kill rolls it back)."""
    with tempfile.TemporaryDirectory(prefix="inventory-restore-") as work:
        script = Path(work) / "restore.sql"
        with script.open("wb") as handle:
            handle.write(b"DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n")
            handle.flush()
            result = subprocess.run(  # noqa: S603 - the bundled tool on our own file
                [
                    pgtools.pg_tool("pg_restore"),
                    "--no-owner",
                    "--no-privileges",
                    "--file=-",
                    str(dump),
                ],
                stdout=handle,
                stderr=subprocess.PIPE,
                check=False,
                preexec_fn=pgtools.die_with_parent,
            )
        if result.returncode != 0:
            raise InvalidInput(pgtools.dump_problem(dump, result.stderr.decode(errors="replace")))
        database.engine.dispose()  # no pooled connection may hold the old tables
        pgtools.run_tool(
            [
                pgtools.pg_tool("psql"),
                "--quiet",
                "--no-psqlrc",
                "--single-transaction",
                "--set=ON_ERROR_STOP=1",
                f"--file={script}",
            ],
            database,
            kill_with_parent=True,
        )
