"""The location tree: browse, create, rename, move and delete places."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from werkzeug.wrappers import Response

from inventory.catalog import locations as service
from inventory.db.models import Role
from inventory.validation import parse_id
from inventory.web.auth import requires
from inventory.web.context import current_user, db, location_tree
from inventory.web.views.forms import attempt

bp = Blueprint("location_pages", __name__)


@bp.get("")
@requires(Role.viewer)
def index() -> str:
    tree = location_tree()
    counts = service.item_counts(session=db())
    children: dict[int | None, list[Any]] = {}
    for node in sorted(tree.nodes.values(), key=lambda n: n.name.lower()):
        children.setdefault(node.parent_id, []).append(node)
    return render_template(
        "locations/tree.html",
        children=children,
        counts=counts,
        tree=tree,
        choices=sorted(tree.nodes, key=tree.path),
    )


@bp.post("")
@requires(Role.editor)
def create() -> Response:
    name = request.form.get("name", "")[:200]
    parent_id = parse_id(request.form.get("parent_id"))
    return attempt(
        lambda: service.create_location(session=db(), name=name, parent_id=parent_id),
        then=url_for("location_pages.index"),
    )


@bp.post("/<id:location_id>")
@requires(Role.editor)
def update(location_id: int) -> Response:
    """Rename and/or move (the form sends both; unchanged values change nothing)."""
    return attempt(
        lambda: service.update_location(
            session=db(),
            location_id=location_id,
            actor=current_user(),
            name=request.form.get("name", "")[:200] or None,
            parent_id=parse_id(request.form.get("parent_id")),
            move="parent_id" in request.form,
        ),
        then=url_for("location_pages.index"),
    )


@bp.post("/<id:location_id>/delete")
@requires(Role.editor)
def delete(location_id: int) -> Response:
    return attempt(
        lambda: service.delete_location(
            session=db(),
            location_id=location_id,
            actor=current_user(),
            move_contents_to_parent=request.form.get("move_contents") == "on",
        ),
        then=url_for("location_pages.index"),
    )
