"""Item pages: list with filters, detail with photos and history, create and edit."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inventory.catalog import history, locations, tags
from inventory.catalog import item_queries as queries
from inventory.catalog import items as service
from inventory.catalog.fields import CUSTOM_FIELD_TYPES, ItemFieldsSchema
from inventory.db.models import Item, Role
from inventory.errors import DomainError, InvalidInput
from inventory.photos import uploads as photos
from inventory.photos.store import open_store
from inventory.search import similar
from inventory.validation import parse_id
from inventory.web.auth import requires
from inventory.web.context import current_user, db, embedder, location_tree, settings
from inventory.web.views.forms import (
    domain_errors,
    item_input,
    item_values,
    validate,
)

bp = Blueprint("item_pages", __name__)
PER_PAGE = 50


@bp.get("")
@requires(Role.viewer)
def index() -> str:
    archived = request.args.get("archived", "false")
    filters = queries.ItemFilter(
        location_id=parse_id(request.args.get("location_id")),
        tag=request.args.get("tag", "").strip()[:64] or None,
        archived=archived if archived in ("true", "all") else "false",  # type: ignore[arg-type]
        text=request.args.get("q", "").strip()[:500] or None,
    )
    sort = request.args.get("sort", "name")
    page = queries.list_items(
        session=db(),
        filters=filters,
        sort=sort if sort in queries.SORT_COLUMNS else "name",
        descending=request.args.get("order") == "desc",
        page=min(parse_id(request.args.get("page")) or 1, 100_000),
        per_page=PER_PAGE,
    )
    return render_template(
        "items/list.html",
        page=page,
        filters=filters,
        tree=location_tree(),
        all_locations=locations.list_locations(session=db()),
        tags=[tag for tag, _ in tags.list_tags(session=db())],
        args=request.args,
    )


@bp.get("/<id:item_id>")
@requires(Role.viewer)
def detail(item_id: int) -> str:
    item = queries.get_item(session=db(), item_id=item_id)
    duplicates = (
        similar.possible_duplicates(session=db(), item_id=item.id, embedder=embedder())
        if request.args.get("created")
        else []
    )
    return render_template(
        "items/detail.html",
        item=item,
        path=location_tree().path(item.location_id),
        history=history.item_history(session=db(), item_id=item.id)[:50],
        similar=_similar(item),
        duplicates=duplicates,
    )


def _similar(item: Item) -> list[Any]:
    """Items with a similar meaning (none while semantic search is unavailable)."""
    try:
        return similar.similar_items(session=db(), item_id=item.id, embedder=embedder(), limit=5)
    except DomainError:
        return []


@bp.get("/new")
@requires(Role.editor)
def new() -> str:
    values = {"location": request.args.get("location", ""), "quantity": "1"}
    return _form(None, values, [], {})


def _form(
    item: Item | None, values: Any, rows: list[dict[str, Any]], errors: dict[str, str]
) -> str:
    tree = location_tree()
    return render_template(
        "items/form.html",
        item=item,
        values=values,
        custom_rows=rows,
        errors=errors,
        types=CUSTOM_FIELD_TYPES,
        location_paths=sorted("/".join(tree.names(node)) for node in tree.nodes),
        tag_names=[tag.name for tag, _ in tags.list_tags(session=db())],
    )


def _submitted_rows() -> list[dict[str, Any]]:
    names, kinds, raw = (request.form.getlist(f"cf_{part}") for part in ("name", "type", "value"))
    return [{"name": n, "type": k, "value": v} for n, k, v in zip(names, kinds, raw, strict=False)]


@bp.post("/new")
@requires(Role.editor)
def create() -> Response | tuple[str, int]:
    data, errors = validate(ItemFieldsSchema(), item_input(request.form))
    if not errors:
        try:
            item = service.create_item(session=db(), data=data, actor=current_user())
            _attach_photos(item.id)
            return redirect(url_for("item_pages.detail", item_id=item.id, created=1))
        except DomainError as exc:
            errors = domain_errors(exc)
    return _form(None, request.form, _submitted_rows(), errors), 422


def _attach_photos(item_id: int) -> None:
    """Photos chosen in the form. A refused one does not undo the item: the page says why."""
    files = [file for file in request.files.getlist("photos") if file.filename]
    if not files:
        return
    try:
        photos.add_photos(
            session=db(),
            item_id=item_id,
            uploads=[photos.Upload(filename=f.filename or "", stream=f.stream) for f in files],
            actor=current_user(),
            store=open_store(settings=settings(), session=db()),
            max_bytes=settings().max_upload_mb * 1024 * 1024,
        )
    except DomainError as exc:
        db().rollback()
        flash(f"The item was saved, but not its photos: {exc.detail}", "error")


@bp.get("/<id:item_id>/edit")
@requires(Role.editor)
def edit(item_id: int) -> str:
    item = queries.get_item(session=db(), item_id=item_id)
    return _form(item, item_values(item, location_tree()), item.custom_fields, {})


@bp.post("/<id:item_id>/edit")
@requires(Role.editor)
def update(item_id: int) -> Response | tuple[str, int]:
    item = queries.get_item(session=db(), item_id=item_id)
    data, errors = validate(ItemFieldsSchema(), item_input(request.form))
    version = request.form.get("version", "")
    if not errors:
        try:
            service.update_item(
                session=db(),
                item_id=item.id,
                data=data,
                actor=current_user(),
                expected_version=parse_id(version),
            )
            return redirect(url_for("item_pages.detail", item_id=item.id))
        except DomainError as exc:
            db().rollback()
            errors = domain_errors(exc)
    item = queries.get_item(session=db(), item_id=item_id)
    return _form(item, request.form, _submitted_rows(), errors), 422


@bp.post("/<id:item_id>/quantity")
@requires(Role.editor)
def quantity(item_id: int) -> Response:
    delta = request.form.get("delta", "")
    if delta not in ("1", "-1"):
        abort(400)
    with suppress(InvalidInput):  # already at zero: the page shows the unchanged quantity
        service.adjust_quantity(
            session=db(), item_id=item_id, delta=int(delta), actor=current_user()
        )
    return redirect(url_for("item_pages.detail", item_id=item_id))


@bp.post("/<id:item_id>/delete")
@requires(Role.editor)
def delete(item_id: int) -> Response:
    service.delete_item(session=db(), item_id=item_id)
    return redirect(url_for("item_pages.index"))
