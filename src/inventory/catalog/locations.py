"""Locations: a tree of any depth (Home › Garage › Shelf 3 › Box A)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from inventory import search
from inventory.catalog import history
from inventory.catalog.tree import PATH_SEPARATOR, LocationTree, subtree_ids
from inventory.db.models import Item, Location, User
from inventory.errors import Conflict, InvalidInput, NotFound


def get_location(*, session: Session, location_id: int) -> Location:
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"location {location_id} does not exist")
    return location


def list_locations(*, session: Session) -> list[Location]:
    return list(session.scalars(select(Location).order_by(func.lower(Location.name))))


def item_counts(*, session: Session) -> dict[int, int]:
    """Items directly in each location (not counting sub-locations)."""
    rows = session.execute(
        select(Item.location_id, func.count())
        .where(Item.location_id.is_not(None))
        .group_by(Item.location_id)
    )
    return {location_id: count for location_id, count in rows if location_id is not None}


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput.field("name", "must not be empty")
    if PATH_SEPARATOR in name:
        raise InvalidInput.field(
            "name", f"must not contain {PATH_SEPARATOR!r} (it separates levels)"
        )
    return name


def _sibling(session: Session, parent_id: int | None, name: str) -> Location | None:
    return session.scalar(
        select(Location).where(
            Location.parent_id.is_(None) if parent_id is None else Location.parent_id == parent_id,
            func.lower(Location.name) == name.lower(),
        )
    )


def _refuse_duplicate(
    session: Session, parent_id: int | None, name: str, own_id: int | None
) -> None:
    twin = _sibling(session, parent_id, name)
    if twin is not None and twin.id != own_id:
        raise Conflict(
            f"a location named {twin.name!r} already exists there", errors={"name": ["taken"]}
        )


def create_location(
    *, session: Session, name: str, parent_id: int | None = None, description: str = ""
) -> Location:
    name = _clean_name(name)
    if parent_id is not None:
        get_location(session=session, location_id=parent_id)
    _refuse_duplicate(session, parent_id, name, None)
    location = Location(name=name, parent_id=parent_id, description=description)
    session.add(location)
    session.commit()
    return location


def ensure_path(*, session: Session, path: str) -> Location:
    """The location at "Home/Garage/Workbench", creating missing levels (not committed)."""
    parts = [part for part in (" ".join(p.split()) for p in path.split(PATH_SEPARATOR)) if part]
    if not parts:
        raise InvalidInput.field("location", "must name at least one level, e.g. 'Home/Garage'")
    parent: Location | None = None
    for part in parts:
        parent_id = parent.id if parent else None
        found = _sibling(session, parent_id, part)
        if found is None:
            # Two requests may create the same level at once: the loser simply finds it.
            session.execute(
                insert(Location)
                .values(name=part[:200], parent_id=parent_id)
                .on_conflict_do_nothing()
            )
            found = _sibling(session, parent_id, part)
        assert found is not None
        parent = found
    assert parent is not None
    return parent


def update_location(
    *,
    session: Session,
    location_id: int,
    actor: User,
    name: str | None = None,
    description: str | None = None,
    parent_id: int | None = None,
    move: bool = False,
) -> Location:
    """Rename and/or move a location with its whole subtree (`move=True` uses `parent_id`)."""
    location = get_location(session=session, location_id=location_id)
    new_name = location.name if name is None else _clean_name(name)
    new_parent = parent_id if move else location.parent_id
    # Validate before assigning: a query would otherwise flush a half-made change.
    if new_parent != location.parent_id and new_parent is not None:
        get_location(session=session, location_id=new_parent)
        if new_parent in set(session.scalars(select(subtree_ids(location.id)))):
            raise Conflict(
                "cannot move a location into itself or below itself",
                errors={"parent_id": ["would make a cycle"]},
            )
    _refuse_duplicate(session, new_parent, new_name, location.id)
    path_changed = (new_name, new_parent) != (location.name, location.parent_id)
    location.name, location.parent_id = new_name, new_parent
    if description is not None:
        location.description = description
    location.updated_at = func.now()
    session.flush()
    if path_changed:
        search.refresh_items(session, in_subtrees_of=[location.id])
    session.commit()
    return location


def delete_location(
    *, session: Session, location_id: int, actor: User, move_contents_to_parent: bool = False
) -> None:
    """Delete a location; one with contents only when asked to move them to its parent."""
    location = get_location(session=session, location_id=location_id)
    item_ids = list(session.scalars(select(Item.id).where(Item.location_id == location.id)))
    children = session.scalar(
        select(func.count()).select_from(Location).where(Location.parent_id == location.id)
    )
    if (item_ids or children) and not move_contents_to_parent:
        raise Conflict(
            f"location {location.name!r} holds {len(item_ids)} item(s) and {children} "
            "location(s); move them first or ask to move them to the parent",
            errors={"move_contents_to_parent": ["required when the location has contents"]},
        )
    parent_id = location.parent_id
    child_ids = list(session.scalars(select(Location.id).where(Location.parent_id == location.id)))
    for child_id in child_ids:
        child = get_location(session=session, location_id=child_id)
        _refuse_duplicate(session, parent_id, child.name, child.id)
    tree = LocationTree.load(session)
    for item_id in item_ids:
        history.record(
            session,
            item_id=item_id,
            actor=actor,
            field="location",
            old=history.location_value(tree, location.id),
            new=history.location_value(tree, parent_id),
        )
    session.execute(
        update(Item)
        .where(Item.location_id == location.id)
        .values(location_id=parent_id, version=Item.version + 1, updated_at=func.now())
    )
    session.execute(
        update(Location).where(Location.parent_id == location.id).values(parent_id=parent_id)
    )
    session.delete(location)
    session.flush()
    search.refresh_items(session, item_ids=item_ids, in_subtrees_of=child_ids)
    session.commit()
