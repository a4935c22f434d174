"""The read side of items: one item, by asset ID, and filtered, sorted pages of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.orm import Session

from inventory.catalog.tree import subtree_ids
from inventory.db.models import Item, Tag
from inventory.errors import InvalidInput, NotFound

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
