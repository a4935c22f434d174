"""Tags: case-insensitive labels shared by items."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from inventory.catalog import tags as service
from inventory.db.models import Role
from inventory.web.api.schemas import TagListSchema, TagSchema, TagWriteSchema
from inventory.web.auth import requires
from inventory.web.context import current_user, db

blp = Blueprint("tags", __name__, description="Labels shared by items")


def _tag_json(tag: Any, item_count: int) -> dict[str, Any]:
    return {"id": tag.id, "name": tag.name, "item_count": item_count}


@blp.route("", methods=["GET"])
@blp.response(200, TagListSchema)
@requires(Role.viewer)
def list_tags() -> dict[str, list[dict[str, Any]]]:
    return {"tags": [_tag_json(tag, n) for tag, n in service.list_tags(session=db())]}


@blp.route("", methods=["POST"])
@blp.arguments(TagWriteSchema)
@blp.response(201, TagSchema)
@requires(Role.editor)
def create_tag(data: dict[str, Any]) -> dict[str, Any]:
    return _tag_json(service.create_tag(session=db(), name=data["name"]), 0)


@blp.route("/<id:tag_id>", methods=["GET"])
@blp.response(200, TagSchema)
@requires(Role.viewer)
def get_tag(tag_id: int) -> dict[str, Any]:
    tag = service.get_tag(session=db(), tag_id=tag_id)
    return _tag_json(tag, service.count_items(session=db(), tag_id=tag.id))


@blp.route("/<id:tag_id>", methods=["PATCH"])
@blp.arguments(TagWriteSchema)
@blp.response(200, TagSchema)
@requires(Role.editor)
def rename_tag(data: dict[str, Any], tag_id: int) -> dict[str, Any]:
    tag = service.rename_tag(session=db(), tag_id=tag_id, name=data["name"])
    return _tag_json(tag, service.count_items(session=db(), tag_id=tag.id))


@blp.route("/<id:tag_id>", methods=["DELETE"])
@blp.response(204)
@requires(Role.editor)
def delete_tag(tag_id: int) -> None:
    """Delete the tag and take it off every item (recorded in their history)."""
    service.delete_tag(session=db(), tag_id=tag_id, actor=current_user())
