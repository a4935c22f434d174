"""The import pages: upload → (map a spreadsheet's columns) → preview job → apply job.

Every step that reads the whole file runs as a background job; the job page shows a
progress bar (app.js polls /api/v1/jobs/{id}) and then the preview or the outcome."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inventory import imports, jobs
from inventory.db.models import Role
from inventory.errors import DomainError
from inventory.imports import spreadsheet
from inventory.imports.tables import read_table
from inventory.web.api.transfer import read_upload
from inventory.web.auth import requires
from inventory.web.context import current_user, db, job_runner

bp = Blueprint("imports", __name__)


def _start_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("imports/start.html", error=error, formats=imports.FORMATS), status


@bp.get("")
@requires(Role.editor)
def start() -> tuple[str, int]:
    return _start_page()


@bp.post("")
@requires(Role.editor)
def upload() -> Response | tuple[str, int]:
    """Keep the file and preview it; a spreadsheet of unknown columns asks for a mapping."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return _start_page("choose a file to import", 422)
    file_format = request.form.get("format") or None
    try:
        data = read_upload(file)
        imports.read_file(data=data, format=file_format, session=db())
    except imports.MappingRequired as needed:
        stored = jobs.store_input(
            session=db(), filename=file.filename, data=data, user=current_user()
        )
        db().commit()
        return _mapping_page(stored.id, needed.header, needed.suggestion, None)
    except DomainError as exc:
        return _start_page(exc.detail, 422)
    job = imports.start_import(
        session=db(),
        data=data,
        filename=file.filename,
        user=current_user(),
        dry_run=True,
        format=file_format,
    )
    job_runner().wake()
    return redirect(url_for("imports.job", job_id=job.id))


def _mapping_page(
    input_id: int, header: list[str], mapping: dict[str, str], error: str | None
) -> tuple[str, int]:
    return render_template(
        "imports/mapping.html",
        input_id=input_id,
        header=header,
        mapping=mapping,
        targets=spreadsheet.TARGETS,
        error=error,
    ), 422 if error else 200


@bp.post("/mapping")
@requires(Role.editor)
def mapping() -> Response | tuple[str, int]:
    """The chosen column mapping: preview the kept file with it."""
    input_id = request.form.get("input_id", type=int) or 0
    stored = jobs.get_job_input(session=db(), input_id=input_id, user=current_user())
    header = read_table(stored.data)[0]
    chosen = {column: request.form.get(f"map-{index}", "") for index, column in enumerate(header)}
    try:
        spreadsheet.check(header, chosen)
    except DomainError as exc:
        return _mapping_page(input_id, header, chosen, exc.detail)
    job = imports.start_import(
        session=db(),
        data=b"",
        filename=stored.filename,
        user=current_user(),
        dry_run=True,
        format="spreadsheet",
        mapping=chosen,
        input_id=input_id,
    )
    job_runner().wake()
    return redirect(url_for("imports.job", job_id=job.id))


@bp.get("/jobs/<id:job_id>")
@requires(Role.editor)
def job(job_id: int) -> str:
    found = jobs.get_job(session=db(), job_id=job_id, user=current_user())
    return render_template("imports/job.html", job=found, report=found.result or {})


@bp.post("/jobs/<id:job_id>/apply")
@requires(Role.editor)
def apply(job_id: int) -> Response:
    applied = imports.start_apply(session=db(), preview_id=job_id, user=current_user())
    job_runner().wake()
    return redirect(url_for("imports.job", job_id=applied.id))
