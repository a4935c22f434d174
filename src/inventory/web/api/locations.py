"""Locations: a tree of any depth; rename, move with everything beneath, delete."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from inventory.catalog import locations as service
from inventory.db.models import Location, Role
from inventory.web.api.schemas import (
    LocationCreateSchema,
    LocationDeleteQuery,
    LocationListSchema,
    LocationSchema,
    LocationUpdateSchema,
)
from inventory.web.auth import requires
from inventory.web.context import current_user, db

blp = Blueprint("locations", __name__, description="Where things are: Home › Garage › Shelf 3")


@blp.route("", methods=["GET"])
@blp.response(200, LocationListSchema)
@requires(Role.viewer)
def list_locations() -> dict[str, list[Location]]:
    """Every location with its full path; build the tree from `parent_id`."""
    return {"locations": service.list_locations(session=db())}


@blp.route("", methods=["POST"])
@blp.arguments(LocationCreateSchema)
@blp.response(201, LocationSchema)
@requires(Role.editor)
def create_location(data: dict[str, Any]) -> Location:
    return service.create_location(session=db(), **data)


@blp.route("/<id:location_id>", methods=["GET"])
@blp.response(200, LocationSchema)
@requires(Role.viewer)
def get_location(location_id: int) -> Location:
    return service.get_location(session=db(), location_id=location_id)


@blp.route("/<id:location_id>", methods=["PATCH"])
@blp.arguments(LocationUpdateSchema)
@blp.response(200, LocationSchema)
@requires(Role.editor)
def update_location(data: dict[str, Any], location_id: int) -> Location:
    """Rename and/or move (set `parent_id`; null for top level). A cycle is refused with 409."""
    move = "parent_id" in data
    return service.update_location(
        session=db(),
        location_id=location_id,
        actor=current_user(),
        name=data.get("name"),
        description=data.get("description"),
        parent_id=data.get("parent_id"),
        move=move,
    )


@blp.route("/<id:location_id>", methods=["DELETE"])
@blp.arguments(LocationDeleteQuery, location="query")
@blp.response(204)
@blp.alt_response(409, description="The location has contents and moving them was not asked")
@requires(Role.editor)
def delete_location(query: dict[str, Any], location_id: int) -> None:
    """Delete; with contents only when `move_contents_to_parent=true`."""
    service.delete_location(
        session=db(),
        location_id=location_id,
        actor=current_user(),
        move_contents_to_parent=query["move_contents_to_parent"],
    )
