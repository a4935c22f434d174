"""CSV export, and imports of our CSV, Homebox, Snipe-IT, Grocy and any spreadsheet.

A small file is imported within the request (200 with the report, as ever); anything larger
answers 202 with `Location: /api/v1/jobs/{id}` and runs as a background job, so no import
request can run into the worker timeout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, jsonify, stream_with_context, url_for
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from inventory import imports, jobs
from inventory.catalog import transfer as service
from inventory.db.models import Role
from inventory.errors import InvalidInput
from inventory.photos.store import open_store
from inventory.web.api.schemas import (
    ImportProblemSchema,
    ImportQuery,
    ImportReportSchema,
    JobSchema,
)
from inventory.web.auth import requires
from inventory.web.context import current_user, database, db, job_runner, settings
from inventory.web.errors import PROBLEM, problem

blp = Blueprint("transfer", __name__, description="CSV export; imports from files of other tools")


class ImportFileSchema(Schema):
    file = Upload(required=True)


class ImportFormSchema(Schema):
    format = fields.String(
        validate=validate.OneOf(imports.FORMATS),
        metadata={"description": "Read the file as this; recognised from its content if absent"},
    )
    mapping = fields.String(
        metadata={"description": 'Spreadsheets: JSON {"column": "field"}; see the 422 answer'}
    )


@blp.route("/export.csv", methods=["GET"])
@blp.response(200, content_type="text/csv", description="Every item, one per row")
@requires(Role.viewer)
def export_csv() -> Response:
    def chunks() -> Iterator[str]:
        # Its own session: it lives exactly as long as the streamed body.
        with database().session() as session:
            yield from service.export_csv(session=session)

    return Response(
        stream_with_context(chunks()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="inventory.csv"'},
    )


def read_upload(upload: Any) -> bytes:
    """The uploaded file, refused when larger than IMPORT_MAX_MB."""
    limit = settings().import_max_mb * 1024 * 1024
    data: bytes = upload.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput.field("file", f"is larger than {settings().import_max_mb} MB")
    return data


def _accepted(job_id: int) -> Response:
    job_runner().wake()
    job = jobs.get_job(session=db(), job_id=job_id, user=current_user())
    response = jsonify(JobSchema().dump(job))
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.get_job", job_id=job_id)
    return response


@blp.route("/import", methods=["POST"])
@blp.arguments(ImportQuery, location="query")
@blp.arguments(ImportFileSchema, location="files")
@blp.arguments(ImportFormSchema, location="form")
@blp.response(200, ImportReportSchema, description="A small file, imported (or previewed)")
@blp.alt_response(202, schema=JobSchema, description="A job: follow Location for its progress")
@blp.alt_response(
    422,
    schema=ImportProblemSchema,
    content_type=PROBLEM,
    description="Bad rows (listed in report.errors with line numbers); nothing was applied",
)
@requires(Role.editor)
def import_csv(
    query: dict[str, Any], files: dict[str, Any], form: dict[str, Any]
) -> imports.ImportReport | Response:
    """Create or update items from our CSV (matched by asset_id), a Homebox CSV or backup zip,
    a Snipe-IT asset CSV, a Grocy export or any spreadsheet. One bad row: nothing applied."""
    upload = files["file"]
    data = read_upload(upload)
    mapping = imports.parse_mapping(form.get("mapping"))
    source = imports.read_file(data=data, format=form.get("format"), mapping=mapping, session=db())
    if len(source.rows) > imports.INSTANT_ROWS or any(row.photos for row in source.rows):
        job = imports.start_import(
            session=db(),
            data=data,
            filename=upload.filename or "import",
            user=current_user(),
            dry_run=query["dry_run"],
            format=form.get("format"),
            mapping=mapping,
        )
        return _accepted(job.id)
    report = imports.import_now(
        session=db(),
        source=source,
        actor=current_user(),
        dry_run=query["dry_run"],
        store=open_store(settings=settings(), session=db()),
    )
    if report.errors:
        body = ImportReportSchema().dump(report)
        return problem(422, "Invalid rows", imports.failure_detail(report), extra={"report": body})
    return report


@blp.route("/import/<id:job_id>/apply", methods=["POST"])
@blp.response(202, JobSchema, description="The import job: follow Location for its progress")
@requires(Role.editor)
def apply_import(job_id: int) -> Response:
    """Apply what a finished preview job (dry_run) showed, from the same uploaded file."""
    job = imports.start_apply(session=db(), preview_id=job_id, user=current_user())
    return _accepted(job.id)
