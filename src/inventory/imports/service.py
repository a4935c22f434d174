"""Import use cases: read a file of any supported kind, preview it, apply it (in one
transaction, all or nothing), directly or as a background job with progress."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from inventory.db.models import Job, User
from inventory.errors import InvalidInput
from inventory.imports import grocy, homebox, native, snipeit, spreadsheet
from inventory.imports.pipeline import Plan, apply_plan, plan_import
from inventory.imports.source import Source
from inventory.imports.tables import Table, decode, is_xlsx, read_csv, read_table
from inventory.jobs import JobContext, JobFailed, get_job, get_job_input, store_input, submit
from inventory.photos.store import ImageStore
from inventory.photos.uploads import discard_unreferenced, import_photos

FORMATS = ("inventory", "homebox", "homebox-backup", "snipeit", "grocy", "spreadsheet")
JOB_KIND = "import"
# Files with at most this many rows are imported within the request; larger ones are jobs.
INSTANT_ROWS = 200
Progress = Callable[[float], None]


class MappingRequired(InvalidInput):
    """A spreadsheet whose columns we cannot place by name: say which column is what."""

    def __init__(self, header: list[str], suggestion: dict[str, str]) -> None:
        super().__init__(
            "the file has no 'name' column of ours: map the spreadsheet's columns onto item "
            f"fields, sending mapping as a JSON object {{column: field}}, e.g. "
            f"{json.dumps(suggestion)}",
            errors={"mapping": [f"fields: {', '.join(spreadsheet.TARGETS)}"]},
        )
        self.header = header
        self.suggestion = suggestion


@dataclass
class ImportReport:
    format: str
    dry_run: bool
    applied: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    new_locations: list[str] = field(default_factory=list)
    new_tags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def count(self, action: str) -> int:
        return {"create": self.created, "update": self.updated, "unchanged": self.unchanged}[action]


def read_file(
    *,
    data: bytes,
    format: str | None = None,
    mapping: dict[str, str] | None = None,
    session: Session | None = None,
) -> Source:
    """Recognise the file (or read it as `format`) and turn it into import rows. A
    spreadsheet of unknown columns needs `mapping` (or one remembered for its headers)."""
    if format is not None and format not in FORMATS:
        raise InvalidInput.field("format", f"must be one of {', '.join(FORMATS)}")
    if not data:
        raise InvalidInput.field("file", "is empty")
    if data.startswith(b"PK") and not is_xlsx(data):
        return _read_zip(data)
    if data.lstrip()[:1] in (b"{", b"[") and format in (None, "grocy"):
        try:
            value = json.loads(decode(data))
        except ValueError:
            raise InvalidInput.field("file", "looks like JSON but is not valid JSON") from None
        if not grocy.matches_json(value):
            raise InvalidInput.field("file", "is JSON, but not an export of Grocy's API")
        return grocy.read(value)
    table = read_table(data) if format != "inventory" else read_csv(decode(data))
    return _read_table(table, format, mapping, session, xlsx=is_xlsx(data))


def _read_zip(data: bytes) -> Source:
    archive = homebox.open_zip(data)
    if archive is None:
        raise InvalidInput.field("file", "is not a readable zip file")
    with archive:
        names = archive.namelist()
        if homebox.is_backup(names):
            return homebox.read_backup(archive)
        if "products.json" in names or "stock.json" in names:
            return grocy.read_zip(archive)
    raise InvalidInput.field("file", "is a zip, but neither a Homebox backup nor a Grocy export")


def _read_table(
    table: Table,
    format: str | None,
    mapping: dict[str, str] | None,
    session: Session | None,
    *,
    xlsx: bool,
) -> Source:
    header = table[0]
    if mapping is not None or format == "spreadsheet":
        return _spreadsheet(table, mapping, session)
    if format == "homebox" or (format is None and homebox.matches(header)):
        return homebox.read_csv(table)
    if format == "snipeit" or (format is None and snipeit.matches(header)):
        return snipeit.read(table)
    if format == "inventory" or (format is None and not xlsx and native.matches(header)):
        return native.read(table)
    return _spreadsheet(table, None, session)


def _spreadsheet(table: Table, mapping: dict[str, str] | None, session: Session | None) -> Source:
    header = table[0]
    if mapping is None and session is not None:
        mapping = spreadsheet.remembered(session=session, header=header)
    if mapping is None:
        raise MappingRequired(header, spreadsheet.suggest(header))
    source = spreadsheet.read(table, mapping)
    if session is not None:
        spreadsheet.remember(
            session=session, header=header, mapping=source_mapping(header, mapping)
        )
    return source


def source_mapping(header: list[str], mapping: dict[str, str]) -> dict[str, str]:
    return {column: mapping[column] for column in header}


def parse_mapping(value: str | None) -> dict[str, str] | None:
    """The mapping form field / CLI option: a JSON object {column: field}."""
    if not value:
        return None
    try:
        mapping = json.loads(value)
    except ValueError:
        raise InvalidInput.field("mapping", "is not valid JSON") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise InvalidInput.field("mapping", "must be a JSON object {column: field}")
    return {str(k): v for k, v in mapping.items()}


def run_import(
    *,
    session: Session,
    source: Source,
    actor: User | None,
    dry_run: bool,
    store: ImageStore | None = None,
    max_photo_bytes: int = 20 * 2**20,
    progress: Progress | None = None,
) -> ImportReport:
    """Preview (dry_run) or apply the import, all rows or none; nothing is committed here
    (`import_now` and the job runner commit)."""
    plan = plan_import(session=session, source=source, lock=not dry_run, progress=progress)
    report = _report(plan, dry_run)
    if plan.errors or dry_run:
        session.rollback()
        return report
    written: list[str] = []

    def add_photos(session: Session, item_id: int, photos: list[Any]) -> list[str]:
        if store is None:
            return []
        names, notes = import_photos(
            session=session,
            store=store,
            item_id=item_id,
            files=[(photo.filename, photo.data) for photo in photos],
            max_bytes=max_photo_bytes,
        )
        written.extend(names)
        report.notes.extend(notes)
        return names

    try:
        apply_plan(
            session=session, plan=plan, actor=actor, progress=progress, add_photos=add_photos
        )
        session.flush()
    except BaseException:
        session.rollback()
        if store is not None:
            discard_unreferenced(session=session, store=store, names=written)
        raise
    _created_ids(report, plan)
    report.applied = True
    return report


def import_now(
    *,
    session: Session,
    source: Source,
    actor: User | None,
    dry_run: bool,
    store: ImageStore | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import within this call (the CLI, small files on the web) and commit when applied."""
    report = run_import(
        session=session, source=source, actor=actor, dry_run=dry_run, store=store, progress=progress
    )
    if report.applied:
        session.commit()
    return report


def _report(plan: Plan, dry_run: bool) -> ImportReport:
    report = ImportReport(
        format=plan.source.format,
        dry_run=dry_run,
        created=plan.count("create"),
        updated=plan.count("update"),
        unchanged=plan.count("unchanged"),
        errors=[error.as_dict() for error in plan.errors],
        ignored_columns=plan.source.ignored_columns,
        new_locations=[" › ".join(path) for path in plan.new_locations],
        new_tags=plan.new_tags,
        notes=plan.notes,
    )
    report.rows = [
        {
            "line": row.line,
            "action": row.action,
            "asset_id": row.asset_id,
            "name": row.name,
            "location": row.after.get("location"),
            "changes": row.changes,
        }
        for row in plan.rows
        if row.action != "unchanged"
    ]
    return report


def _created_ids(report: ImportReport, plan: Plan) -> None:
    ids = {row.line: row.item_id for row in plan.rows}
    for row in report.rows:
        row["item_id"] = ids.get(row["line"])


def failure_detail(report: ImportReport) -> str:
    lines = sorted({error["line"] for error in report.errors if error["line"] is not None})
    return f"nothing was imported: errors on line(s) {', '.join(map(str, lines))}"


# ---- as a job ------------------------------------------------------------------------------


def start_import(
    *,
    session: Session,
    data: bytes,
    filename: str,
    user: User,
    dry_run: bool,
    format: str | None = None,
    mapping: dict[str, str] | None = None,
    input_id: int | None = None,
) -> Job:
    """Keep the file (or use the one kept as `input_id`) and queue its import or preview;
    the job's result is the report."""
    if input_id is None:
        input_id = store_input(session=session, filename=filename, data=data, user=user).id
    else:
        get_job_input(session=session, input_id=input_id, user=user)
    params = {"dry_run": dry_run, "format": format, "mapping": mapping}
    return submit(session=session, kind=JOB_KIND, params=params, user=user, input_id=input_id)


def start_apply(*, session: Session, preview_id: int, user: User) -> Job:
    """Apply what a finished preview showed: the same file, read the same way."""
    preview = get_job(session=session, job_id=preview_id, user=user)
    if preview.kind != JOB_KIND or not preview.params.get("dry_run"):
        raise InvalidInput.field("job", f"job {preview_id} is not an import preview")
    if preview.status != "done" or preview.input_id is None:
        raise InvalidInput.field("job", f"job {preview_id} is {preview.status}; preview again")
    params = {**preview.params, "dry_run": False}
    return submit(
        session=session, kind=JOB_KIND, params=params, user=user, input_id=preview.input_id
    )


def job_handler(
    *, open_store: Callable[[Session], ImageStore], max_photo_bytes: int
) -> Callable[[Session, JobContext], Any]:
    """The "import" job: read the stored file, preview or apply it; errors fail the job."""

    def handle(session: Session, job: JobContext) -> Any:
        filename, data = job.input()
        actor = session.get(User, job.user_id) if job.user_id else None
        source = read_file(
            data=data,
            format=job.params.get("format"),
            mapping=job.params.get("mapping"),
            session=session,
        )
        report = run_import(
            session=session,
            source=source,
            actor=actor,
            dry_run=bool(job.params.get("dry_run")),
            store=open_store(session),
            max_photo_bytes=max_photo_bytes,
            progress=job.progress,
        )
        result = {**report.as_dict(), "filename": filename}
        if report.errors:
            raise JobFailed(failure_detail(report), errors=report.errors, result=result)
        if report.dry_run:
            session.rollback()
            spreadsheet_mapping = job.params.get("mapping")
            if spreadsheet_mapping and source.format == "spreadsheet":
                # A preview writes nothing, except what it remembers of the mapping.
                header = list(spreadsheet_mapping)
                spreadsheet.remember(session=session, header=header, mapping=spreadsheet_mapping)
        return result

    return handle
