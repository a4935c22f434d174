"""Photo files gathered before the database is replaced, put into the store after it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from inventory.db.session import Database
from inventory.operations import backup
from inventory.photos.store import FilesystemStore, check_name, open_store
from inventory.settings import Settings

# Photos wait here (inside the image folder: same filesystem, so moving them in is a rename).
STAGING_PREFIX = ".restore-"


class ImageStaging:
    """Photo files gathered before the database is replaced and put into the store after it.

    They wait in a hidden folder inside the image folder (never served: the store only reads
    its two-level shards) and go in by rename, so the store never holds half a file. A folder
    left by a killed process is removed by the next staging.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        root = settings.images_path
        root.mkdir(parents=True, exist_ok=True)
        remove_abandoned_staging(root)
        self.folder = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=root))
        self.names: list[str] = []

    def __enter__(self) -> ImageStaging:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def add(self, name: str, chunks: Iterator[bytes]) -> None:
        """Stage one photo file under its (checked) storage name."""
        target = self.folder / check_name(name)
        if target.exists():
            return  # content-addressed: the same name holds the same bytes
        with target.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        self.names.append(name)

    def add_file(self, name: str, source: Path) -> None:
        with source.open("rb") as handle:
            self.add(name, backup.chunks(handle))

    def put_into_store(self, database: Database) -> int:
        """Move every staged file into the configured store; returns how many were new."""
        added = 0
        with database.session() as session:
            store = open_store(settings=self.settings, session=session)
            for name in self.names:
                staged = self.folder / name
                if isinstance(store, FilesystemStore):
                    added += _move_in(store, name, staged)
                else:
                    added += store.put(name, staged.read_bytes())
            session.commit()
        return added


def _move_in(store: FilesystemStore, name: str, staged: Path) -> bool:
    target = store.path(name)
    if target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    staged.chmod(0o644)  # nginx (another user) serves these files
    os.replace(staged, target)
    return True


def remove_abandoned_staging(root: Path) -> list[Path]:
    """Remove staging folders whose process is gone (a restore that was killed)."""
    removed = []
    for folder in root.glob(f"{STAGING_PREFIX}*"):
        pid = folder.name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
