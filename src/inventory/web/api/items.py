"""Items: CRUD, history, quantity changes and bulk operations."""

from __future__ import annotations

from typing import Any

from flask import g, request
from flask_smorest import Blueprint

from inventory.catalog import history
from inventory.catalog import item_queries as queries
from inventory.catalog import items as service
from inventory.db.models import Item, ItemHistory, Role
from inventory.errors import Conflict, InvalidInput, PreconditionFailed
from inventory.search import similar
from inventory.web.api.schemas import (
    BulkMoveSchema,
    BulkResultSchema,
    BulkTagSchema,
    HistorySchema,
    ItemCreatedSchema,
    ItemCreateSchema,
    ItemListQuery,
    ItemPageSchema,
    ItemSchema,
    ItemUpdateSchema,
    QuantityChangeSchema,
    SearchResultsSchema,
    SimilarQuery,
)
from inventory.web.auth import requires
from inventory.web.context import current_user, db, embedder

blp = Blueprint("items", __name__, description="Things you own, where they are, and their history")


def _etag(item: Item) -> str:
    return f'"{item.version}"'


def _with_etag(item: Item, status: int = 200) -> tuple[Item, int, dict[str, str]]:
    return item, status, {"ETag": _etag(item)}


def _if_match() -> int | None:
    """The version named by an If-Match header ("3" or W/"3"); None when absent or *."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    value = header.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise PreconditionFailed(f"If-Match must be an ETag from this API, got {header!r}")
    return int(value)


@blp.route("", methods=["GET"])
@blp.arguments(ItemListQuery, location="query", as_kwargs=True)
@blp.response(200, ItemPageSchema)
@requires(Role.viewer)
def list_items(
    page: int,
    per_page: int,
    sort: str,
    order: str,
    archived: str,
    location_id: int | None = None,
    tag: str | None = None,
    q: str | None = None,
) -> queries.ItemPage:
    """List items, with paging, sorting and filters (a location includes everything under it)."""
    filters = queries.ItemFilter(location_id=location_id, tag=tag, archived=archived, text=q)  # type: ignore[arg-type]
    return queries.list_items(
        session=db(),
        filters=filters,
        sort=sort,
        descending=order == "desc",
        page=page,
        per_page=per_page,
    )


@blp.route("", methods=["POST"])
@blp.arguments(ItemCreateSchema)
@blp.response(201, ItemCreatedSchema)
@requires(Role.editor)
def create_item(data: dict[str, Any]) -> tuple[Item, int, dict[str, str]]:
    """Create an item; `location` may be a path like "Home/Garage/Workbench".
    `possible_duplicates` lists existing items that look like the same thing."""
    item = service.create_item(session=db(), data=data, actor=current_user(), embedder=embedder())
    g.possible_duplicates = {
        item.id: similar.possible_duplicates(session=db(), item_id=item.id, embedder=embedder())
    }
    return _with_etag(item, 201)


@blp.route("/<id:item_id>/similar", methods=["GET"])
@blp.arguments(SimilarQuery, location="query")
@blp.response(200, SearchResultsSchema)
@blp.alt_response(503, description="The embedding model is not loaded")
@requires(Role.viewer)
def similar_items(query: dict[str, Any], item_id: int) -> dict[str, Any]:
    """Other items closest in meaning to this one; `score` is the cosine similarity."""
    hits = similar.similar_items(
        session=db(), item_id=item_id, embedder=embedder(), limit=query["limit"]
    )
    return {"results": hits, "mode": "vector", "notices": []}


@blp.route("/<id:item_id>", methods=["GET"])
@blp.response(200, ItemSchema)
@requires(Role.viewer)
def get_item(item_id: int) -> tuple[Item, int, dict[str, str]]:
    return _with_etag(queries.get_item(session=db(), item_id=item_id))


@blp.route("/<id:item_id>", methods=["PATCH"])
@blp.arguments(ItemUpdateSchema(partial=True))
@blp.response(200, ItemSchema)
@blp.alt_response(409, description="The version is stale: someone else changed the item")
@blp.alt_response(412, description="If-Match names a stale version")
@requires(Role.editor)
def update_item(data: dict[str, Any], item_id: int) -> tuple[Item, int, dict[str, str]]:
    """Change some fields. Send the version you edited (If-Match or `version`) to be safe
    from overwriting someone else's change."""
    header_version = _if_match()
    body_version = data.pop("version", None)
    item = service.update_item(
        session=db(),
        item_id=item_id,
        data=data,
        actor=current_user(),
        expected_version=header_version if header_version is not None else body_version,
        stale=PreconditionFailed if header_version is not None else Conflict,
        embedder=embedder(),
    )
    return _with_etag(item)


@blp.route("/<id:item_id>", methods=["DELETE"])
@blp.response(204)
@requires(Role.editor)
def delete_item(item_id: int) -> None:
    service.delete_item(session=db(), item_id=item_id)


@blp.route("/<id:item_id>/quantity", methods=["POST"])
@blp.arguments(QuantityChangeSchema)
@blp.response(200, ItemSchema)
@requires(Role.editor)
def change_quantity(data: dict[str, Any], item_id: int) -> tuple[Item, int, dict[str, str]]:
    """Add to or take from the quantity (+1 / −1 buttons); it never goes below zero."""
    item = service.adjust_quantity(
        session=db(), item_id=item_id, delta=data["delta"], actor=current_user()
    )
    return _with_etag(item)


@blp.route("/<id:item_id>/history", methods=["GET"])
@blp.response(200, HistorySchema(many=True))
@requires(Role.viewer)
def item_history(item_id: int) -> list[ItemHistory]:
    """Every change: who, when, which field, old → new. Newest first."""
    return history.item_history(session=db(), item_id=item_id)


@blp.route("/bulk/move", methods=["POST"])
@blp.arguments(BulkMoveSchema)
@blp.response(200, BulkResultSchema)
@requires(Role.editor)
def bulk_move(data: dict[str, Any]) -> dict[str, list[Item]]:
    item_ids = data.pop("item_ids")
    items = service.bulk_move(session=db(), item_ids=item_ids, data=data, actor=current_user())
    return {"items": items}


@blp.route("/bulk/tag", methods=["POST"])
@blp.arguments(BulkTagSchema)
@blp.response(200, BulkResultSchema)
@requires(Role.editor)
def bulk_tag(data: dict[str, Any]) -> dict[str, list[Item]]:
    if not data["add"] and not data["remove"]:
        raise InvalidInput.field("add", "give tags to add or to remove")
    items = service.bulk_tag(
        session=db(),
        item_ids=data["item_ids"],
        add=data["add"],
        remove=data["remove"],
        actor=current_user(),
    )
    return {"items": items}
