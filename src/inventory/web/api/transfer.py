"""CSV export and import (all-or-nothing, with a dry run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema

from inventory.catalog import transfer as service
from inventory.db.models import Role
from inventory.errors import InvalidInput
from inventory.web.api.schemas import ImportProblemSchema, ImportQuery, ImportReportSchema
from inventory.web.auth import requires
from inventory.web.context import current_user, database, db, settings
from inventory.web.errors import PROBLEM, problem

blp = Blueprint("transfer", __name__, description="CSV export and import")


class ImportFileSchema(Schema):
    file = Upload(required=True)


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


@blp.route("/import", methods=["POST"])
@blp.arguments(ImportQuery, location="query")
@blp.arguments(ImportFileSchema, location="files")
@blp.response(200, ImportReportSchema)
@blp.alt_response(
    422,
    schema=ImportProblemSchema,
    content_type=PROBLEM,
    description="Bad rows (listed in report.errors with line numbers); nothing was applied",
)
@requires(Role.editor)
def import_csv(query: dict[str, Any], files: dict[str, Any]) -> service.ImportReport | Response:
    """Create or update items from CSV (matched by asset_id). One bad row: nothing applied."""
    data = files["file"].read(settings().max_upload_mb * 1024 * 1024 + 1)
    if len(data) > settings().max_upload_mb * 1024 * 1024:
        raise InvalidInput.field("file", f"is larger than {settings().max_upload_mb} MB")
    report = service.import_csv(
        session=db(), data=data, actor=current_user(), dry_run=query["dry_run"]
    )
    if report.errors:
        lines = sorted({error.line for error in report.errors})
        detail = f"nothing was imported: errors on line(s) {', '.join(map(str, lines))}"
        body = {**ImportReportSchema().dump(report)}
        return problem(422, "Invalid rows", detail, extra={"report": body})
    return report
