"""The `inventory` command: parses, calls services, prints. Errors are one line, exit 2."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from inventory import accounts, imports
from inventory.catalog import transfer as csv_transfer
from inventory.db import migrate
from inventory.db.session import Database, open_database
from inventory.errors import DomainError
from inventory.files import atomic_file
from inventory.photos.store import open_store
from inventory.settings import Settings, SettingsError

F = TypeVar("F", bound=Callable[..., Any])


def _friendly_errors(command: F) -> F:
    """Known failures end the command with one line naming the problem."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (SettingsError, DomainError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return run  # type: ignore[return-value]


def _settings() -> Settings:
    return Settings.from_env().with_secret_key()


@contextmanager
def _database(upgrade: bool = True) -> Iterator[Database]:
    settings = _settings()
    database = open_database(settings)
    try:
        if upgrade:
            _upgrade(settings, database)
        yield database
    finally:
        database.close()


def _upgrade(settings: Settings, database: Database) -> None:
    from inventory.operations.upgrade import upgrade_schema

    safety = upgrade_schema(settings=settings, database=database)
    if safety is not None:
        click.echo(f"backed up the data before upgrading the schema: {safety}", err=True)


@contextmanager
def _session() -> Iterator[Session]:
    with _database() as database, database.session() as session:
        yield session


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise click.UsageError("no password on standard input")
    return password


@click.group()
@click.version_option(package_name="inventory")
def main() -> None:
    """Inventory: where is my …?"""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 32))
@_friendly_errors
def serve(host: str, port: int, workers: int) -> None:
    """Serve the app with Gunicorn (migrating the schema first)."""
    from inventory.server import serve as run_server

    run_server(_settings(), host=host, port=port, workers=workers)


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@_friendly_errors
def db_upgrade() -> None:
    """Apply pending migrations (safe to run from several processes at once), after
    backing up an installation that holds data."""
    with _database(upgrade=False) as database:
        before = migrate.current_revision(database.engine)
        _upgrade(_settings(), database)
        after = migrate.current_revision(database.engine)
    click.echo(f"schema at {after}" + ("" if before == after else f" (was {before})"))


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration changes.")
@click.option(
    "--autogenerate", is_flag=True, help="Fill it with what the models declare beyond the schema."
)
@_friendly_errors
def db_revision(message: str, autogenerate: bool) -> None:
    """Write the next migration file (for developers of this app)."""
    with _database(upgrade=False) as database:
        try:
            path = migrate.new_revision(database.engine, message, autogenerate=autogenerate)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {path}")


@main.group()
def user() -> None:
    """Accounts."""


@user.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "editor", "viewer"]))
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
@_friendly_errors
def user_create(username: str, role: str, password_stdin: bool) -> None:
    """Create a user; the password is read from standard input, never from the command line."""
    password = _read_password()
    with _session() as session:
        created = accounts.create_user(
            session=session, username=username, password=password, role=accounts.parse_role(role)
        )
        click.echo(f"created {created.role.value} {created.username}")


@user.command("list")
@_friendly_errors
def user_list() -> None:
    with _session() as session:
        for found in accounts.list_users(session=session):
            state = "" if found.active else " (disabled)"
            click.echo(f"{found.username}\t{found.role.value}{state}")


@user.command("set-password")
@click.option("--username", required=True)
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
@_friendly_errors
def user_set_password(username: str, password_stdin: bool) -> None:
    """Set a new password (signs the user out everywhere)."""
    password = _read_password()
    with _session() as session:
        found = accounts.find_user(session=session, username=username)
        if found is None:
            raise click.ClickException(f"no user named {username!r}")
        accounts.set_password(session=session, user=found, password=password)
        click.echo(f"password changed for {found.username}")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--username", required=True)
@click.option("--name", default="", help="What the token is for.")
@_friendly_errors
def token_create(username: str, name: str) -> None:
    """Create an API token and print it (only this once)."""
    with _session() as session:
        found = accounts.find_user(session=session, username=username)
        if found is None:
            raise click.ClickException(f"no user named {username!r}")
        click.echo(accounts.create_token(session=session, user=found, name=name).secret)


@token.command("revoke")
@click.argument("secret")
@_friendly_errors
def token_revoke(secret: str) -> None:
    """Revoke an API token, given the token itself."""
    with _session() as session:
        revoked = accounts.revoke_token(session=session, user=None, secret=secret)
        click.echo(f"revoked token {revoked.prefix}… of {revoked.user.username}")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(imports.FORMATS),
    help="Read the file as this (recognised from its content when not given).",
)
@click.option(
    "--mapping",
    help='Spreadsheets: JSON {"column": "field"} (remembered for files with the same columns).',
)
@_friendly_errors
def import_command(file: Path, dry_run: bool, file_format: str | None, mapping: str | None) -> None:
    """Create or update items from our CSV (matched by asset_id), a Homebox CSV or backup zip,
    a Snipe-IT asset CSV, a Grocy export, or any CSV/XLSX spreadsheet; all rows or none."""
    data = file.read_bytes()
    settings = _settings()
    with (
        _session() as session,
        click.progressbar(length=1000, label="Importing", file=sys.stderr) as bar,
    ):
        source = imports.read_file(
            data=data, format=file_format, mapping=imports.parse_mapping(mapping), session=session
        )
        done = [0]

        def progress(fraction: float) -> None:
            step = int(fraction * 1000) - done[0]
            if step > 0:
                bar.update(step)
                done[0] += step

        report = imports.import_now(
            session=session,
            source=source,
            actor=None,
            dry_run=dry_run,
            store=open_store(settings=settings, session=session),
            progress=progress,
        )
        progress(1.0)
    _print_report(report)


def _print_report(report: imports.ImportReport) -> None:
    for error in report.errors:
        where = f" {error['field']}:" if error["field"] else ""
        click.echo(f"line {error['line']}:{where} {error['message']}", err=True)
    if report.ignored_columns:
        click.echo(f"ignored columns: {', '.join(report.ignored_columns)}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if report.errors:
        click.echo(f"nothing imported: {len(report.errors)} error(s)", err=True)
        sys.exit(1)
    dry_run = report.dry_run
    counts = ", ".join(
        f"{report.count(action)} {word}"
        for action, word in (
            ("create", "to create" if dry_run else "created"),
            ("update", "to update" if dry_run else "updated"),
            ("unchanged", "unchanged"),
        )
    )
    click.echo(f"{'dry run: ' if dry_run else ''}{counts} ({report.format})")


@main.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of standard output.",
)
@_friendly_errors
def export_command(output: Path | None) -> None:
    """Write every item as CSV."""
    with _session() as session:
        chunks = csv_transfer.export_csv(session=session)
        if output is None:
            for chunk in chunks:
                click.echo(chunk, nl=False)
            return
        with atomic_file(output) as handle:
            for chunk in chunks:
                handle.write(chunk.encode())
        click.echo(f"wrote {output}", err=True)


@main.group()
def images() -> None:
    """Photo files: move them between stores, remove unreferenced ones."""


@images.command("migrate")
@click.option("--to", "target", required=True, type=click.Choice(["filesystem", "database"]))
@click.option("--keep-source", is_flag=True, help="Copy only; leave the source as it is.")
@_friendly_errors
def images_migrate(target: str, keep_source: bool) -> None:
    """Move every photo file to the other store (resumable), then set IMAGE_STORAGE_METHOD."""
    from inventory.photos import maintenance
    from inventory.photos.store import open_store
    from inventory.settings import StorageMethod

    settings = _settings()
    source_method: StorageMethod = "database" if target == "filesystem" else "filesystem"
    with _session() as session:
        source = open_store(settings=settings, session=session, method=source_method)
        destination = open_store(
            settings=settings,
            session=session,
            method="database" if target == "database" else "filesystem",
        )
        total = len(maintenance.referenced_names(session))
        with click.progressbar(length=max(total, 1), label="Moving images", file=sys.stderr) as bar:
            report = maintenance.migrate_images(
                session=session,
                source=source,
                target=destination,
                keep_source=keep_source,
                progress=bar.update,
            )
    for name in report.missing or []:
        click.echo(f"missing in {source_method}: {name}", err=True)
    click.echo(
        f"{report.copied} copied, {report.already_there} already there, "
        f"{report.removed_from_source} removed from {source_method}"
    )
    if report.missing:
        click.echo(f"{len(report.missing)} file(s) missing; the source was left as it is", err=True)
        sys.exit(1)
    click.echo(f"now set IMAGE_STORAGE_METHOD={target} and restart the app", err=True)


@images.command("gc")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option(
    "--min-age-minutes",
    default=60,
    show_default=True,
    type=click.IntRange(0),
    help="Leave younger files alone (uploads in progress).",
)
@_friendly_errors
def images_gc(dry_run: bool, min_age_minutes: int) -> None:
    """Remove image files and blobs that no photo refers to, in both stores."""
    from inventory.photos import maintenance
    from inventory.photos.store import DatabaseStore, FilesystemStore

    settings = _settings()
    with _session() as session:
        stores = (
            FilesystemStore(settings.images_path, settle_seconds=min_age_minutes * 60),
            DatabaseStore(session),
        )
        for store in stores:
            removed = maintenance.collect_garbage(session=session, store=store, dry_run=dry_run)
            for name in removed:
                click.echo(f"{store.method}: {name}", err=True)
            verb = "would remove" if dry_run else "removed"
            click.echo(f"{store.method}: {verb} {len(removed)} unreferenced file(s)")


@main.group("search")
def search_group() -> None:
    """The semantic search index."""


@search_group.command("reindex")
@click.option("--all", "everything", is_flag=True, help="Redo every item, not only what is due.")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(1, 10_000))
@_friendly_errors
def search_reindex(everything: bool, batch_size: int) -> None:
    """Embed items whose vectors are missing, stale or from another model (resumable)."""
    import os

    from inventory.embeddings import EmbeddingUnavailable, get_embedder
    from inventory.search import reindex

    try:
        embedder = get_embedder(_settings(), threads=os.cpu_count() or 1)
    except EmbeddingUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    with _session() as session:
        ids = reindex.plan(session=session, embedder=embedder, everything=everything)
        with click.progressbar(length=len(ids), label="Embedding", file=sys.stderr) as bar:
            done = reindex.run(
                session=session,
                embedder=embedder,
                item_ids=ids,
                batch_size=batch_size,
                progress=bar.update,
            )
    click.echo(f"embedded {done} item(s) with {embedder.model}")


@main.group("model")
def model_group() -> None:
    """Embedding models."""


@model_group.command("export-onnx")
@click.argument("model")
@_friendly_errors
def model_export_onnx(model: str) -> None:
    """Convert a sentence-transformers MODEL (name or path) to ONNX in the model cache."""
    from inventory.embeddings import EmbeddingUnavailable
    from inventory.embeddings.export import export_onnx

    try:
        target = export_onnx(_settings(), model)
    except EmbeddingUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"exported to {target}; use it with EMBEDDING_MODEL={model}")


@main.command("backup")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Archive to write (default: backups/ in the data folder).",
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    help="Then delete all but the newest KEEP scheduled archives in the backups folder.",
)
@click.option(
    "--every",
    metavar="INTERVAL",
    help="Keep running: back up now and then every INTERVAL (30m, 24h, 7d).",
)
@_friendly_errors
def backup_command(output: Path | None, keep: int | None, every: str | None) -> None:
    """Write one archive: database dump, photos, settings and a checksummed manifest."""
    from inventory.operations import schedule

    settings = _settings()
    folder = settings.backups_path
    if every is None:
        _backup_once(settings, output)
        if keep is not None:
            schedule.prune(folder, keep=keep)
        return
    if output is not None:
        raise click.UsageError("--every writes dated archives into the backups folder: no --output")
    from inventory.web.observability import configure_logging

    configure_logging(settings.log_format)
    schedule.run_scheduled(
        take_backup=lambda: _backup_once(settings, None),
        folder=folder,
        every=schedule.parse_interval(every),
        keep=keep or 7,
    )


def _backup_once(settings: Settings, output: Path | None) -> Path:
    from inventory.operations import backup

    target = output or settings.backups_path / backup.default_name()
    with (
        _database() as database,
        click.progressbar(
            length=backup.photo_file_count(database) or 1, label="Backing up", file=sys.stderr
        ) as bar,
    ):
        result = backup.backup(
            settings=settings, database=database, output=target, progress=bar.update
        )
    counts = ", ".join(f"{n} {what}" for what, n in result.manifest["counts"].items())
    click.echo(f"wrote {result.path} ({counts})")
    return result.path


@main.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace existing data (it is backed up first).")
@_friendly_errors
def restore_command(archive: Path, force: bool) -> None:
    """Restore a backup archive after checking every member's checksum."""
    from inventory.operations import backup, restore

    settings = _settings()
    with (
        _database(upgrade=False) as database,
        click.progressbar(
            length=backup.member_count(archive) or 1, label="Restoring", file=sys.stderr
        ) as bar,
    ):
        manifest = restore.restore(
            settings=settings,
            database=database,
            archive_path=archive,
            force=force,
            progress=bar.update,
        )
    counts = ", ".join(f"{n} {what}" for what, n in manifest["counts"].items())
    click.echo(f"restored {archive.name} from {manifest['created_at']} ({counts})")
    click.echo("if the search model differs from the backup's, run: inventory search reindex")


@main.group()
def device() -> None:
    """This device's registration for the Cloudflare Tunnel."""


@device.command("register")
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where tunnel.env goes (default: config/ in the data folder).",
)
@_friendly_errors
def device_register(config_dir: Path | None) -> None:
    """Register with CF_WORKER_URL over mutual TLS; keeps the host name and tunnel token."""
    from inventory.operations import device as service

    settings = _settings()
    done = service.register(
        settings=settings, config_dir=config_dir or settings.data_dir / "config"
    )
    click.echo(f"registered device {done.serial} as https://{done.hostname}")
    click.echo(f"tunnel settings saved to {done.saved_to} (start with the compose tunnel profile)")


@main.group("migrate")
def migrate_group() -> None:
    """Bring data over from another installation."""


@migrate_group.command("from-pi")
@click.argument("staging", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace existing data (it is backed up first).")
@click.option("--no-reindex", is_flag=True, help="Leave the search vectors for later.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_friendly_errors
def migrate_from_pi(staging: Path, force: bool, no_reindex: bool, as_json: bool) -> None:
    """Restore a Raspberry Pi install from STAGING (database.dump, images/, ml_cache/), as
    scripts/migrate-from-pi.sh fills it; exits 1 when the counts differ from the Pi's."""
    import json
    import os

    from inventory.embeddings import get_embedder
    from inventory.operations import pi_migration

    settings = _settings()
    with _database(upgrade=False) as database:
        report = pi_migration.migrate_from_pi(
            settings=settings,
            database=database,
            staging=staging,
            force=force,
            load_embedder=None
            if no_reindex
            else lambda: get_embedder(settings, threads=os.cpu_count() or 1),
            progress=lambda step: click.echo(f"-- {step}", err=True),
        )
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        click.echo(pi_migration.render_report(report))
    if not report.matches:
        sys.exit(1)
