"""Where photo files live: a sharded folder (IMAGE_DIR) or the `image_blobs` table.

Both stores speak the same small protocol. Names are validated against one pattern
(`<64 hex>-display.webp` and the like) before any use, so no name can reach outside the store.
The filesystem store writes to a temporary name and renames (readers never see half a file);
the database store writes inside the caller's transaction (a rollback leaves nothing).
"""

from __future__ import annotations

import errno
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from inventory.db.models import ImageBlob
from inventory.errors import InsufficientStorage, NotFound
from inventory.files import is_temporary, write_atomically
from inventory.settings import Settings, StorageMethod

NAME_PATTERN = re.compile(r"(?P<key>[0-9a-f]{64})-(?P<size>display|thumb)\.(?P<ext>webp|jpg)")
SIZES = ("display", "thumb")
MEDIA_TYPES = {"webp": "image/webp", "jpg": "image/jpeg"}
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


def file_name(key: str, size: str, ext: str) -> str:
    """The storage (and URL) name of one size of a photo."""
    return check_name(f"{key}-{size}.{ext}")


def photo_names(key: str, ext: str) -> list[str]:
    return [file_name(key, size, ext) for size in SIZES]


def check_name(name: str) -> str:
    """`name` if it is one of ours; NotFound otherwise (never a path, never `..`)."""
    if NAME_PATTERN.fullmatch(name) is None:
        raise NotFound("no such image")
    return name


def key_of(name: str) -> str:
    match = NAME_PATTERN.fullmatch(name)
    if match is None:
        raise NotFound("no such image")
    return match["key"]


def media_type(name: str) -> str:
    return MEDIA_TYPES[check_name(name).rsplit(".", 1)[1]]


class ImageStore(Protocol):
    method: StorageMethod

    def put(self, name: str, data: bytes) -> bool:
        """Store `data` under `name`; True when it was not there before."""

    def get(self, name: str) -> bytes | None: ...

    def exists(self, name: str) -> bool: ...

    def delete(self, name: str) -> None:
        """Remove `name`; a missing name is not an error."""

    def names(self) -> Iterator[str]:
        """Every stored name (old enough to be settled, for the filesystem)."""


class FilesystemStore:
    """Files under `root/ab/cd/<name>`: two levels of shards keep folders small."""

    method: StorageMethod = "filesystem"

    def __init__(self, root: Path, *, settle_seconds: float = 3600) -> None:
        self.root = root
        # Files younger than this may belong to an upload that has not committed yet.
        self.settle_seconds = settle_seconds

    def relative(self, name: str) -> str:
        """The path below the root, as nginx's internal location sees it."""
        check_name(name)
        return f"{name[:2]}/{name[2:4]}/{name}"

    def path(self, name: str) -> Path:
        return self.root / self.relative(name)

    def put(self, name: str, data: bytes) -> bool:
        target = self.path(name)
        if target.exists():
            return False  # content-addressed: same name, same bytes
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, data)
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise InsufficientStorage("the image storage is full; nothing was saved") from None
            raise
        return True

    def get(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def names(self) -> Iterator[str]:
        for path in self._files():
            if NAME_PATTERN.fullmatch(path.name) and self._settled(path):
                yield path.name

    def stale_temporaries(self) -> Iterator[Path]:
        """Leftovers of interrupted writes (a crash between write and rename)."""
        for path in self._files():
            if is_temporary(path) and self._settled(path):
                yield path

    def _files(self) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        for shard in sorted(self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]")):
            yield from sorted(entry for entry in shard.iterdir() if entry.is_file())

    def _settled(self, path: Path) -> bool:
        try:
            return time.time() - path.stat().st_mtime >= self.settle_seconds
        except FileNotFoundError:
            return False


class DatabaseStore:
    """Rows of `image_blobs`, written in the session's transaction (committed by the caller)."""

    method: StorageMethod = "database"

    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, name: str, data: bytes) -> bool:
        statement = (
            insert(ImageBlob)
            .values(name=check_name(name), data=data)
            .on_conflict_do_nothing(index_elements=[ImageBlob.name])
            .returning(ImageBlob.name)
        )
        return self.session.scalar(statement) is not None

    def get(self, name: str) -> bytes | None:
        return self.session.scalar(select(ImageBlob.data).where(ImageBlob.name == check_name(name)))

    def exists(self, name: str) -> bool:
        query = select(ImageBlob.name).where(ImageBlob.name == check_name(name))
        return self.session.scalar(query) is not None

    def delete(self, name: str) -> None:
        self.session.execute(delete(ImageBlob).where(ImageBlob.name == check_name(name)))

    def names(self) -> Iterator[str]:
        for name in self.session.scalars(select(ImageBlob.name).order_by(ImageBlob.name)):
            if NAME_PATTERN.fullmatch(name):
                yield name


def open_store(
    *, settings: Settings, session: Session, method: StorageMethod | None = None
) -> ImageStore:
    """The store for `method` (default: IMAGE_STORAGE_METHOD)."""
    if (method or settings.image_storage_method) == "database":
        return DatabaseStore(session)
    return FilesystemStore(settings.images_path)
