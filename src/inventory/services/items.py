"""Items: create, change, move, tag, archive, delete — each change recorded in the history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from inventory.db.models import Item, Location, Tag, User, asset_id_sequence
from inventory.embeddings import Embedder
from inventory.services import history, indexing, locations, tags
from inventory.services.errors import Conflict, DomainError, InvalidInput, NotFound
from inventory.services.tree import LocationTree, subtree_ids

# Columns a client may sort by; anything else is refused, never passed to SQL.
SORT_COLUMNS = {
    "name": func.lower(Item.name),
    "asset_id": Item.asset_id,
    "quantity": Item.quantity,
    "created_at": Item.created_at,
    "updated_at": Item.updated_at,
    "warranty_expires": Item.warranty_expires,
}
ENGLISH: ColumnElement[str] = literal_column("'english'::regconfig")
ArchivedFilter = Literal["false", "true", "all"]


def format_asset_id(number: int) -> str:
    """000-123 style: easy to read aloud and to write on a label."""
    return f"{number // 1000:03d}-{number % 1000:03d}"


def asset_number(asset_id: str) -> int:
    return int(asset_id.replace("-", ""))


def get_item(*, session: Session, item_id: int) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"item {item_id} does not exist")
    return item


def find_by_asset_id(*, session: Session, asset_id: str) -> Item | None:
    return session.scalar(select(Item).where(Item.asset_id == asset_id))


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
        for name in history.ITEM_FIELDS:
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
    indexing.refresh_items(session, item_ids=[item.id], embedder=embedder)
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
        indexing.refresh_items(session, item_ids=[item.id], embedder=embedder)
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


@dataclass(frozen=True)
class ItemFilter:
    location_id: int | None = None
    tag: str | None = None
    archived: ArchivedFilter = "false"
    text: str | None = None

    @property
    def narrows(self) -> bool:
        """True when more than the archived flag limits the items."""
        return bool(self.location_id is not None or self.tag or self.text)

    def apply(self, query: Select[Any]) -> Select[Any]:
        """Filters in SQL; `location_id` includes everything beneath it."""
        if self.location_id is not None:
            query = query.where(Item.location_id.in_(select(subtree_ids(self.location_id))))
        if self.tag:
            query = query.where(Item.tags.any(func.lower(Tag.name) == self.tag.lower()))
        if self.archived != "all":
            query = query.where(Item.archived.is_(self.archived == "true"))
        if self.text:
            query = query.where(
                Item.search_vector.op("@@")(func.websearch_to_tsquery(ENGLISH, self.text))
            )
        return query


@dataclass(frozen=True)
class ItemPage:
    items: list[Item]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_items(
    *,
    session: Session,
    filters: ItemFilter = ItemFilter(),
    sort: str = "name",
    descending: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> ItemPage:
    if sort not in SORT_COLUMNS:
        raise InvalidInput.field("sort", f"must be one of {', '.join(SORT_COLUMNS)}")
    column = SORT_COLUMNS[sort]
    order = column.desc() if descending else column.asc()
    query = filters.apply(select(Item))
    total = session.scalar(filters.apply(select(func.count(Item.id)))) or 0
    rows = session.scalars(
        query.order_by(order, Item.id).offset((page - 1) * per_page).limit(per_page)
    )
    return ItemPage(items=list(rows.unique()), total=total, page=page, per_page=per_page)
