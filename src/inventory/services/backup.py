"""Backups: one tar archive with a pg_dump (custom format), every photo as a file (whatever
the storage method), the non-secret settings and a manifest with a SHA-256 per member.

Restore checks every checksum before touching anything, stages the photos beside the store,
replaces the database in a single transaction (all or nothing), moves the staged photos in by
renaming, then migrates an older schema forward (an interrupted upgrade resumes when the app
starts). Killed at any point before the database commit, a restore has changed nothing that
the app reads: the psql child dies with it (the transaction rolls back) and no half-written
file reaches the store; the next restore removes the abandoned staging folder.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from inventory import __version__
from inventory.db import migrate
from inventory.db.models import Item, Location, Photo, User
from inventory.db.session import Database
from inventory.services.errors import Conflict, InvalidInput
from inventory.services.image_store import FilesystemStore, check_name, open_store
from inventory.services.photos import referenced_names
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
# Photos wait here (inside the image folder: same filesystem, so moving them in is a rename).
STAGING_PREFIX = ".restore-"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]


# ---- the PostgreSQL client tools ------------------------------------------------------------


def _tool(name: str) -> str:
    """pg_dump / pg_restore / psql: PostgreSQL 16's own, shipped with pgserver, else PATH."""
    try:
        from pgserver._commands import POSTGRES_BIN_PATH

        bundled = Path(POSTGRES_BIN_PATH) / name
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which(name)
    if found is None:
        raise InvalidInput(f"{name} is not installed; it is needed for backups")
    return found


def _client_env(database: Database) -> dict[str, str]:
    """libpq's variables for the app's database: the password never shows in a process list."""
    url = make_url(database.url)
    env = {**os.environ, "PGDATABASE": url.database or "", "PGUSER": url.username or ""}
    host = url.query.get("host") or url.host
    port = url.query.get("port") or url.port
    if host:
        env["PGHOST"] = str(host)
    if port:
        env["PGPORT"] = str(port)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def _die_with_parent() -> None:
    """In the child: be killed when the process that started it dies (even by SIGKILL), so an
    interrupted restore cannot leave psql running on to a commit."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _run(
    command: list[str], database: Database, *, die_with_parent: bool = False, **kwargs: Any
) -> None:
    result = subprocess.run(  # noqa: S603 - fixed tools, arguments built here
        command,
        env=_client_env(database),
        capture_output=True,
        check=False,
        # Only from the single-threaded restore command: preexec_fn and threads do not mix.
        preexec_fn=_die_with_parent if die_with_parent else None,
        **kwargs,
    )
    if result.returncode != 0:
        error = result.stderr.decode(errors="replace").strip().splitlines()
        raise InvalidInput(f"{Path(command[0]).name} failed: {error[-1] if error else 'no output'}")


# ---- backup -------------------------------------------------------------------------------


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
        _run([_tool("pg_dump"), *DUMP_OPTIONS, f"--file={dump}"], database)
        members: dict[str, dict[str, Any]] = {}
        partial = output.with_name(output.name + ".partial")
        with database.session() as session, tarfile.open(partial, "w") as archive:
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
        partial.replace(output)
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
        for chunk in _chunks(handle):
            digest.update(chunk)
    members[name] = {"sha256": digest.hexdigest(), "size": path.stat().st_size}
    archive.add(path, arcname=name)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, members: dict[str, Any]) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))
    members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


# ---- restore ------------------------------------------------------------------------------


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
    for chunk in _chunks(archive.extractfile(member)):
        digest.update(chunk)
    if digest.hexdigest() != expected.get("sha256") or member.size != expected.get("size"):
        raise InvalidInput(f"member {member.name!r} is damaged (its checksum does not match)")


def _chunks(handle: IO[bytes] | None) -> Iterator[bytes]:
    if handle is None:
        return
    yield from iter(lambda: handle.read(1 << 20), b"")


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
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Replace the database and photos with the archive's. Refuses a non-empty installation
    unless `force`, and then backs it up into `safety_dir` first. Returns the manifest."""
    manifest = verify(archive_path)
    if not is_empty(database):
        if not force:
            raise Conflict(
                "this installation already has data; restore with --force to "
                "replace it (a backup of it is taken first)"
            )
        target = (safety_dir or settings.data_dir / "backups") / default_name()
        backup(settings=settings, database=database, output=target)
    with (
        tempfile.TemporaryDirectory(prefix="inventory-restore-") as work,
        ImageStaging(settings) as staging,
        tarfile.open(archive_path, "r") as archive,
    ):
        dump = Path(work) / DUMP
        for member in archive:
            handle = archive.extractfile(member)
            if member.name == DUMP:
                with dump.open("wb") as out:
                    for chunk in _chunks(handle):
                        out.write(chunk)
            elif member.name.startswith(IMAGES):
                staging.add(check_image_name(member.name), _chunks(handle))
                if progress:
                    progress(1)
        restore_dump(database=database, dump=dump)
        staging.put_into_store(database)  # renames: a moment, right after the commit
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
                [_tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(dump)],
                stdout=handle,
                stderr=subprocess.PIPE,
                check=False,
                preexec_fn=_die_with_parent,
            )
        if result.returncode != 0:
            raise InvalidInput(dump_problem(dump, result.stderr.decode(errors="replace")))
        database.engine.dispose()  # no pooled connection may hold the old tables
        _run(
            [
                _tool("psql"),
                "--quiet",
                "--no-psqlrc",
                "--single-transaction",
                "--set=ON_ERROR_STOP=1",
                f"--file={script}",
            ],
            database,
            die_with_parent=True,
        )


def dump_problem(dump: Path, stderr: str) -> str:
    """pg_restore's complaint about `dump`, as a sentence that says what to do."""
    lines = [line.removeprefix("pg_restore: ") for line in stderr.strip().splitlines()]
    last = lines[-1] if lines else "no output"
    if "unsupported version" in stderr:
        return (
            f"{dump.name} was written by a newer pg_dump than this PostgreSQL 16 pg_restore "
            f"can read ({last}); make the dump with pg_dump 16 or older"
        )
    if "input file does not appear to be a valid archive" in stderr:
        return f"{dump.name} is not a pg_dump custom-format archive (make it with pg_dump -Fc)"
    return f"pg_restore cannot read {dump.name}: {last}"


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
            self.add(name, _chunks(handle))

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
