"""The backup archive: one tar with a pg_dump (custom format), every photo as a file (whatever
the storage method), the non-secret settings and a manifest with a SHA-256 per member.
`backup` writes one; `verify` checks every member of one before a restore reads it."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select

from inventory import __version__
from inventory.db import migrate
from inventory.db.models import Item, Location, Photo, User
from inventory.db.session import Database
from inventory.errors import InvalidInput
from inventory.files import atomic_file
from inventory.operations import pgtools
from inventory.photos.maintenance import referenced_names
from inventory.photos.store import check_name, open_store
from inventory.settings import Settings

FORMAT = "inventory-backup/1"
MANIFEST = "manifest.json"
DUMP = "database.dump"
CONFIG = "config.json"
IMAGES = "images/"
# Photo bytes travel as files: the table keeps only its definition in the dump.
DUMP_OPTIONS = (
    "--format=custom",
    "--no-owner",
    "--no-privileges",
    "--exclude-table-data=image_blobs",
)
Progress = Callable[[int], None]  # called with 1 for each member done


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]


def default_name(now: datetime | None = None) -> str:
    return f"inventory-backup-{(now or datetime.now(UTC)):%Y%m%d-%H%M%S}.tar"


def photo_file_count(database: Database) -> int:
    with database.session() as session:
        return len(referenced_names(session))


def backup(
    *, settings: Settings, database: Database, output: Path, progress: Progress | None = None
) -> BackupResult:
    """Write the archive to `output` (a temporary name first, renamed when complete)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".backup-") as work:
        dump = Path(work) / DUMP
        pgtools.run_tool([pgtools.pg_tool("pg_dump"), *DUMP_OPTIONS, f"--file={dump}"], database)
        members: dict[str, dict[str, Any]] = {}
        with (
            database.session() as session,
            atomic_file(output) as handle,
            tarfile.open(fileobj=handle, mode="w") as archive,
        ):
            _add_file(archive, DUMP, dump, members)
            _add_bytes(archive, CONFIG, _public_config(settings), members)
            store = open_store(settings=settings, session=session)
            for name in referenced_names(session):
                data = store.get(name)
                if data is not None:
                    _add_bytes(archive, IMAGES + name, data, members)
                if progress:
                    progress(1)
            manifest = _manifest(session, database, members)
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode(), {})
    return BackupResult(path=output, manifest=manifest)


def _public_config(settings: Settings) -> bytes:
    """The settings worth keeping with the data; secrets stay out of the archive."""
    config = {
        "release": settings.release,
        "image_storage_method": settings.image_storage_method,
        "embedding_backend": settings.embedding_backend,
        "embedding_model": settings.embedding_model,
        "max_upload_mb": settings.max_upload_mb,
    }
    return json.dumps(config, indent=2).encode()


def _manifest(session: Any, database: Database, members: dict[str, Any]) -> dict[str, Any]:
    def count(model: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "app_version": __version__,
        "schema_revision": migrate.current_revision(database.engine),
        "counts": {
            "items": count(Item),
            "locations": count(Location),
            "photos": count(Photo),
            "users": count(User),
        },
        "members": members,
    }


def _add_file(archive: tarfile.TarFile, name: str, path: Path, members: dict[str, Any]) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in chunks(handle):
            digest.update(chunk)
    members[name] = {"sha256": digest.hexdigest(), "size": path.stat().st_size}
    archive.add(path, arcname=name)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, members: dict[str, Any]) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))
    members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def member_count(archive_path: Path) -> int:
    """How many members a restore will handle (for a progress bar); 0 if unreadable."""
    try:
        with tarfile.open(archive_path, "r") as archive:
            return len(_read_manifest(archive)["members"])
    except (tarfile.TarError, OSError, InvalidInput):
        return 0


def verify(archive_path: Path, progress: Progress | None = None) -> dict[str, Any]:
    """The manifest, after checking that every member is present, expected and intact."""
    try:
        with tarfile.open(archive_path, "r") as archive:
            manifest = _read_manifest(archive)
            expected = manifest["members"]
            seen = set()
            for member in archive:
                if member.name == MANIFEST:
                    continue
                if member.name not in expected or not member.isfile():
                    raise InvalidInput(f"{archive_path.name}: unexpected member {member.name!r}")
                _check_member(archive, member, expected[member.name])
                seen.add(member.name)
                if progress:
                    progress(1)
            missing = sorted(set(expected) - seen)
            if missing:
                raise InvalidInput(f"{archive_path.name}: member {missing[0]!r} is missing")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidInput(
            f"{archive_path.name} is not a readable backup archive ({exc})"
        ) from None
    return manifest


def _read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    try:
        handle = archive.extractfile(MANIFEST)
        manifest: dict[str, Any] = json.load(handle) if handle else {}
    except (KeyError, json.JSONDecodeError):
        raise InvalidInput("the archive has no readable manifest.json") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("members"), dict):
        raise InvalidInput("manifest.json is not one of this app's backup manifests")
    for name in manifest["members"]:
        if name.startswith(IMAGES):
            check_image_name(name)
        elif name not in (DUMP, CONFIG):
            raise InvalidInput(f"manifest.json names an unexpected member {name!r}")
    return manifest


def check_image_name(member: str) -> str:
    """The photo's storage name; never a path that leads anywhere else."""
    try:
        return check_name(member.removeprefix(IMAGES))
    except Exception:
        raise InvalidInput(f"unexpected member {member!r}") from None


def _check_member(
    archive: tarfile.TarFile, member: tarfile.TarInfo, expected: dict[str, Any]
) -> None:
    digest = hashlib.sha256()
    for chunk in chunks(archive.extractfile(member)):
        digest.update(chunk)
    if digest.hexdigest() != expected.get("sha256") or member.size != expected.get("size"):
        raise InvalidInput(f"member {member.name!r} is damaged (its checksum does not match)")


def chunks(handle: IO[bytes] | None) -> Iterator[bytes]:
    if handle is None:
        return
    yield from iter(lambda: handle.read(1 << 20), b"")
