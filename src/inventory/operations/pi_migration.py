"""Moving a Raspberry Pi install (this app's older release on a local PostgreSQL) into this
installation, from a staging folder that `scripts/migrate-from-pi.sh` fills:

    STAGING/database.dump   the Pi's `inventory_db`, `pg_dump -Fc`
    STAGING/images/         the Pi's /var/lib/inventory/images (any layout below it)
    STAGING/ml_cache/       the Pi's /var/lib/inventory/ml_cache (optional)

The dump is checked before anything is touched (readable by our pg_restore, made by this app,
a schema revision we know), then restored like a backup (one transaction, photos staged and
renamed in), the schema is upgraded to head and the search vectors made for whatever the Pi
had none or another model's. The report compares row counts in the dump with the result.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text

from inventory.db import migrate
from inventory.db.session import Database
from inventory.embeddings import Embedder
from inventory.errors import Conflict, InvalidInput
from inventory.operations import backup, pgtools, restore
from inventory.operations.staging import ImageStaging
from inventory.photos.maintenance import referenced_names
from inventory.photos.store import NAME_PATTERN, open_store
from inventory.settings import Settings

DUMP = "database.dump"
IMAGES = "images"
ML_CACHE = "ml_cache"
# What the comparison counts: the label people see and the table behind it.
COUNTED = {
    "items": "items",
    "locations": "locations",
    "tags": "tags",
    "photos": "photos",
    "users": "users",
    "history": "item_history",
}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DumpInfo:
    server_version: str
    revision: str | None
    counts: dict[str, int]


@dataclass
class MigrationReport:
    source_version: str
    source_revision: str | None
    target_revision: str | None
    before: dict[str, int]
    after: dict[str, int]
    photo_files: int = 0
    photo_files_missing: list[str] = field(default_factory=list)
    skipped_files: int = 0
    ml_cache_files: int = 0
    embedded: int | None = None
    embedding_model: str | None = None
    warnings: list[str] = field(default_factory=list)
    safety_backup: Path | None = None

    @property
    def matches(self) -> bool:
        return self.before == self.after

    def as_json(self) -> dict[str, Any]:
        return {
            "source": {"postgresql": self.source_version, "schema": self.source_revision},
            "target": {"schema": self.target_revision},
            "counts": {
                name: {"pi": self.before.get(name), "here": self.after.get(name)}
                for name in COUNTED
            },
            "matches": self.matches,
            "photo_files": self.photo_files,
            "photo_files_missing": self.photo_files_missing,
            "skipped_files": self.skipped_files,
            "ml_cache_files": self.ml_cache_files,
            "embedded": self.embedded,
            "embedding_model": self.embedding_model,
            "warnings": self.warnings,
            "safety_backup": str(self.safety_backup) if self.safety_backup else None,
        }


# ---- the dump -----------------------------------------------------------------------------


def inspect_dump(dump: Path) -> DumpInfo:
    """What the Pi's dump holds; InvalidInput naming the problem when it is not usable."""
    if not dump.is_file():
        raise InvalidInput(f"the Pi's dump {dump} does not exist")
    with dump.open("rb") as handle:
        head = handle.read(5)
    if head != b"PGDMP":
        kind = "a plain SQL dump" if head[:2] == b"--" else "not a pg_dump archive"
        raise InvalidInput(f"{dump.name} is {kind}; make it with pg_dump -Fc (custom format)")
    listing = _pg_restore(dump, "--list")
    version = next(
        (
            line.split(":", 1)[1].strip()
            for line in listing.splitlines()
            if line.startswith(";     Dumped from database version:")
        ),
        "unknown",
    )
    if " TABLE public alembic_version " not in listing:
        raise InvalidInput(
            f"{dump.name} has no alembic_version table: it is not a database of this app "
            "(dump the Pi's inventory_db)"
        )
    tables = [*COUNTED.values(), "alembic_version"]
    rows = _copy_rows(dump, tables)
    # alembic_version has one column: its row is the revision itself.
    versions = rows.get("alembic_version") or []
    revision = versions[0] if versions else None
    return DumpInfo(
        server_version=version,
        revision=revision,
        counts={label: len(rows.get(table, [])) for label, table in COUNTED.items()},
    )


def _pg_restore(dump: Path, *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - the bundled tool on the given file
        [pgtools.pg_tool("pg_restore"), *args, str(dump)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise InvalidInput(pgtools.dump_problem(dump, result.stderr.decode(errors="replace")))
    return result.stdout.decode(errors="replace")


def _copy_rows(dump: Path, tables: list[str]) -> dict[str, list[str]]:
    """Each table's data rows as COPY text lines (one line per row: newlines are escaped)."""
    options = [f"--table={table}" for table in tables]
    rows: dict[str, list[str]] = {}
    with subprocess.Popen(  # noqa: S603 - the bundled tool on the given file
        [pgtools.pg_tool("pg_restore"), "--data-only", *options, "--file=-", str(dump)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        current: list[str] | None = None
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if current is not None:
                if line == "\\.":
                    current = None
                else:
                    current.append(line)
            elif line.startswith("COPY "):
                table = line.split()[1].split(".")[-1].strip('"')
                current = rows.setdefault(table, [])
        stderr = process.stderr.read() if process.stderr else b""
    if process.returncode != 0:
        raise InvalidInput(pgtools.dump_problem(dump, stderr.decode(errors="replace")))
    return rows


def _check_revision(revision: str | None) -> None:
    if revision is None:
        return
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    try:
        known = scripts.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise InvalidInput(
            f"the Pi's schema is at revision {revision}, which this app "
            f"(schema {migrate.head_revision()}) does not know: update this app first"
        )


# ---- the target ---------------------------------------------------------------------------


def check_target(database: Database) -> None:
    """The target must be a PostgreSQL with pgvector (the search tables need it)."""
    with database.engine.connect() as conn:
        version = str(conn.scalar(text("SHOW server_version")))
        number = int(conn.scalar(text("SHOW server_version_num")) or 0)
        vector = conn.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"))
    if number < 150000:
        raise InvalidInput(
            f"the target runs PostgreSQL {version}; this app needs 15 or newer (16 is shipped)"
        )
    if vector is None:
        raise InvalidInput(
            f"the target PostgreSQL {version} has no pgvector extension; install pgvector "
            "or use the stack's postgres service"
        )


def counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as conn:
        return {
            label: int(conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608 - fixed names
            for label, table in COUNTED.items()
        }


def render_report(report: MigrationReport) -> str:
    """The before/after table and what else happened, for people."""
    lines = [
        f"Pi: PostgreSQL {report.source_version}, schema {report.source_revision}; "
        f"here: schema {report.target_revision}",
        "",
        f"{'':<10} {'Pi':>8} {'here':>8}",
    ]
    for name in COUNTED:
        before, after = report.before.get(name, 0), report.after.get(name, 0)
        mark = "ok" if before == after else "DIFFERENT"
        lines.append(f"{name:<10} {before:>8} {after:>8}  {mark}")
    missing = len(report.photo_files_missing)
    lines.append("")
    lines.append(f"photo files: {report.photo_files - missing} of {report.photo_files} in place")
    if report.ml_cache_files:
        lines.append(f"model cache: {report.ml_cache_files} file(s) copied")
    if report.embedded is not None:
        lines.append(f"search: embedded {report.embedded} item(s) with {report.embedding_model}")
    if report.safety_backup:
        lines.append(f"the data that was here is backed up in {report.safety_backup}")
    lines += [f"warning: {warning}" for warning in report.warnings]
    lines.append(
        "counts match" if report.matches else "COUNTS DIFFER: check the rows marked DIFFERENT"
    )
    return "\n".join(lines)


# ---- the migration ------------------------------------------------------------------------


def migrate_from_pi(
    *,
    settings: Settings,
    database: Database,
    staging: Path,
    force: bool = False,
    safety_dir: Path | None = None,
    load_embedder: Callable[[], Embedder] | None = None,
    progress: Progress | None = None,
) -> MigrationReport:
    """Restore the Pi's dump and files from `staging` into this (empty, unless `force`)
    installation; returns the before/after comparison. Nothing is changed when a check fails."""
    say = progress or (lambda _: None)
    if not staging.is_dir():
        raise InvalidInput(f"the staging folder {staging} does not exist")
    dump = staging / DUMP
    say(f"checking {dump}")
    info = inspect_dump(dump)
    _check_revision(info.revision)
    check_target(database)
    safety: Path | None = None
    if not restore.is_empty(database):
        if not force:
            raise Conflict(
                "this installation already has data; migrate with --force to replace it "
                "(a backup of it is taken first)"
            )
        safety = (safety_dir or settings.backups_path) / backup.default_name()
        say(f"backing up the current data to {safety}")
        backup.backup(settings=settings, database=database, output=safety)

    warnings: list[str] = []
    with ImageStaging(settings) as photos:
        say("staging photo files")
        skipped = 0
        for name, path in _photo_files(staging / IMAGES):
            if name is None:
                skipped += 1
            else:
                photos.add_file(name, path)
        say(f"restoring the database (PostgreSQL {info.server_version}, schema {info.revision})")
        restore.restore_dump(database=database, dump=dump)
        photos.put_into_store(database)
    say("upgrading the schema")
    migrate.upgrade(database.engine)

    report = MigrationReport(
        source_version=info.server_version,
        source_revision=info.revision,
        target_revision=migrate.current_revision(database.engine),
        before=info.counts,
        after=counts(database),
        skipped_files=skipped,
        warnings=warnings,
        safety_backup=safety,
    )
    _check_photo_files(settings, database, report)
    if (staging / ML_CACHE).is_dir():
        say(f"copying the model cache into {settings.model_cache}")
        report.ml_cache_files = _merge_tree(staging / ML_CACHE, settings.model_cache, warnings)
    if load_embedder is not None:
        _reindex(database, load_embedder, report, say)
    return report


def _photo_files(folder: Path) -> Iterator[tuple[str | None, Path]]:
    """Every file below `folder` (sharded or flat), named when it is one of our photo files."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield (path.name if NAME_PATTERN.fullmatch(path.name) else None), path


def _check_photo_files(settings: Settings, database: Database, report: MigrationReport) -> None:
    with database.session() as session:
        store = open_store(settings=settings, session=session)
        names = referenced_names(session)
        report.photo_files = len(names)
        report.photo_files_missing = [name for name in names if not store.exists(name)]
    if report.photo_files_missing:
        report.warnings.append(
            f"{len(report.photo_files_missing)} photo file(s) the Pi's database refers to were "
            "not in its images folder (first: " + report.photo_files_missing[0] + ")"
        )
    if report.skipped_files:
        report.warnings.append(
            f"{report.skipped_files} file(s) in the Pi's images folder are not photo files of "
            "this app and were left out"
        )


def _merge_tree(source: Path, target: Path, warnings: list[str]) -> int:
    """Copy files that the target does not have yet (what is already here wins)."""
    copied = 0
    try:
        for path in sorted(source.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            destination = target / path.relative_to(source)
            if destination.exists():
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            copied += 1
    except OSError as exc:
        warnings.append(f"the model cache was not copied completely ({exc})")
    return copied


def _reindex(
    database: Database,
    load_embedder: Callable[[], Embedder],
    report: MigrationReport,
    say: Progress,
) -> None:
    """Vectors for items the Pi had none for, or made with another model."""
    from inventory.embeddings import EmbeddingUnavailable
    from inventory.search import reindex

    try:
        embedder = load_embedder()
    except EmbeddingUnavailable as exc:
        report.warnings.append(
            f"search vectors not made ({exc}); run `inventory search reindex` later"
        )
        return
    with database.session() as session:
        ids = reindex.plan(session=session, embedder=embedder)
        say(f"making search vectors for {len(ids)} item(s) with {embedder.model}")
        report.embedded = reindex.run(session=session, embedder=embedder, item_ids=ids)
    report.embedding_model = embedder.model
