"""Items: create, change, move, tag, archive, delete — each change recorded in the history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from inventory import search
from inventory.catalog import history, locations, tags
from inventory.catalog.fields import FIELD_NAMES
from inventory.catalog.item_queries import find_by_asset_id, format_asset_id, get_item
from inventory.catalog.tree import LocationTree
from inventory.db.models import Item, Location, User, asset_id_sequence
from inventory.embeddings import Embedder
from inventory.errors import Conflict, DomainError, InvalidInput

# Advisory lock key: an import holds it exclusively while it numbers new items after the
# highest asset number; single creations hold it shared, so they wait instead of colliding.
ASSET_ID_LOCK = 7_201_017


def _resolve_location(session: Session, data: Mapping[str, Any]) -> tuple[bool, int | None]:
    """(given, location id) from `location` (a path) or `location_id` in the input."""
    if data.get("location") is not None:
        return True, locations.ensure_path(session=session, path=data["location"]).id
    if "location_id" in data or "location" in data:
        location_id = data.get("location_id")
        if location_id is not None and session.get(Location, location_id) is None:
            raise InvalidInput.field("location_id", f"location {location_id} does not exist")
        return True, location_id
    return False, None


def _apply(session: Session, item: Item, data: Mapping[str, Any]) -> None:
    # Locations first: creating missing levels flushes, and the item must not be dirty yet.
    given, location_id = _resolve_location(session, data)
    with session.no_autoflush:
        if given:
            item.location_id = location_id
        for name in FIELD_NAMES:
            if name in data:
                setattr(item, name, data[name])
        if "tags" in data:
            item.tags = tags.resolve(session, data["tags"])


def create_item(
    *,
    session: Session,
    data: Mapping[str, Any],
    actor: User | None,
    asset_id: str | None = None,
    commit: bool = True,
    embedder: Embedder | None = None,
) -> Item:
    """Create an item from validated fields; `asset_id` is assigned unless given (import).
    With `embedder` its meaning vector is made now, else by the embedding queue."""
    item = Item(created_by_id=actor.id if actor else None, quantity=1, custom_fields=[])
    _apply(session, item, data)
    if asset_id is None:
        asset_id = _next_free_asset_id(session)
    elif find_by_asset_id(session=session, asset_id=asset_id) is not None:
        raise Conflict(f"asset ID {asset_id} is taken", errors={"asset_id": ["taken"]})
    item.asset_id = asset_id
    session.add(item)
    session.flush()
    search.refresh_items(session, item_ids=[item.id], embedder=embedder)
    history.record(
        session,
        item_id=item.id,
        actor=actor,
        action="created",
        field=None,
        old=None,
        new=history.snapshot(item, LocationTree.load(session)),
    )
    if commit:
        session.commit()
    return item


def _next_free_asset_id(session: Session) -> str:
    # Imported items may already hold numbers ahead of the sequence; skip past them.
    session.execute(select(func.pg_advisory_xact_lock_shared(ASSET_ID_LOCK)))
    while True:
        candidate = format_asset_id(session.scalar(asset_id_sequence.next_value()) or 0)
        if find_by_asset_id(session=session, asset_id=candidate) is None:
            return candidate


def update_item(
    *,
    session: Session,
    item_id: int,
    data: Mapping[str, Any],
    actor: User | None,
    expected_version: int | None = None,
    stale: type[DomainError] = Conflict,
    commit: bool = True,
    embedder: Embedder | None = None,
) -> Item:
    """Apply a partial update. A stale `expected_version` raises `stale` (409 or 412)."""
    item = get_item(session=session, item_id=item_id)
    if expected_version is not None and expected_version != item.version:
        raise stale(
            f"item {item_id} was changed by someone else (version {item.version}, "
            f"you had {expected_version}); reload it and apply your change again",
            errors={"version": [f"current version is {item.version}"]},
        )
    before = history.snapshot(item, LocationTree.load(session))
    _apply(session, item, data)
    with session.no_autoflush:
        after = history.snapshot(item, LocationTree.load(session))
        changed = history.record_changes(
            session, item_id=item.id, actor=actor, before=before, after=after
        )
    if changed:
        item.updated_at = func.now()
        _flush_checked(session, item_id)
        search.refresh_items(session, item_ids=[item.id], embedder=embedder)
    if commit:
        session.commit()
    return item


def _flush_checked(session: Session, item_id: int) -> None:
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise Conflict(f"item {item_id} was changed by someone else at the same time") from None


def adjust_quantity(*, session: Session, item_id: int, delta: Any, actor: User | None) -> Item:
    """Add `delta` (may be negative) to the quantity; it never goes below zero."""
    item = get_item(session=session, item_id=item_id)
    new = item.quantity + delta
    if new < 0:
        raise InvalidInput.field(
            "delta", f"would make the quantity negative (it is {item.quantity})"
        )
    return update_item(session=session, item_id=item_id, data={"quantity": new}, actor=actor)


def delete_item(*, session: Session, item_id: int) -> None:
    session.delete(get_item(session=session, item_id=item_id))
    session.commit()


def _items_or_fail(session: Session, item_ids: Sequence[int]) -> list[Item]:
    found = list(session.scalars(select(Item).where(Item.id.in_(item_ids))))
    missing = sorted(set(item_ids) - {item.id for item in found})
    if missing:
        raise InvalidInput.field("item_ids", f"no such item(s): {', '.join(map(str, missing))}")
    return found


def bulk_move(
    *, session: Session, item_ids: Sequence[int], data: Mapping[str, Any], actor: User | None
) -> list[Item]:
    """Move several items at once (all or none); `data` holds location or location_id."""
    items = _items_or_fail(session, item_ids)
    _, location_id = _resolve_location(session, data)
    for item in items:
        update_item(
            session=session,
            item_id=item.id,
            data={"location_id": location_id},
            actor=actor,
            commit=False,
        )
    session.commit()
    return items


def bulk_tag(
    *,
    session: Session,
    item_ids: Sequence[int],
    add: Sequence[str],
    remove: Sequence[str],
    actor: User | None,
) -> list[Item]:
    """Add and remove tags on several items at once (all or none)."""
    items = _items_or_fail(session, item_ids)
    removing = {name.lower() for name in remove}
    for item in items:
        names = [tag.name for tag in item.tags if tag.name.lower() not in removing]
        update_item(
            session=session,
            item_id=item.id,
            data={"tags": [*names, *add]},
            actor=actor,
            commit=False,
        )
    session.commit()
    return items
