"""Item history: one row per changed field, with who, when and old → new."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.catalog.fields import FIELD_NAMES
from inventory.db.models import Item, ItemHistory, User
from inventory.errors import NotFound


def json_value(value: Any) -> Any:
    """A JSON-friendly form of a column value."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def location_value(tree: Any, location_id: int | None) -> dict[str, Any] | None:
    if location_id is None:
        return None
    return {"id": location_id, "path": tree.path(location_id)}


def snapshot(item: Item, tree: Any) -> dict[str, Any]:
    """The item's tracked state, as it would be shown in its history."""
    state = {name: json_value(getattr(item, name)) for name in FIELD_NAMES}
    state["tags"] = sorted(tag.name for tag in item.tags)
    state["location"] = location_value(tree, item.location_id)
    return state


def record(
    session: Session,
    *,
    item_id: int,
    actor: User | None,
    field: str | None,
    old: Any,
    new: Any,
    action: str = "updated",
) -> None:
    session.add(
        ItemHistory(
            item_id=item_id,
            actor_id=actor.id if actor else None,
            actor_name=actor.username if actor else "system",
            action=action,
            field=field,
            old_value=old,
            new_value=new,
        )
    )


def record_changes(
    session: Session,
    *,
    item_id: int,
    actor: User | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> int:
    """Record each field that differs; returns how many did."""
    changed = [name for name in after if before.get(name) != after[name]]
    for name in changed:
        record(
            session, item_id=item_id, actor=actor, field=name, old=before.get(name), new=after[name]
        )
    return len(changed)


def item_history(*, session: Session, item_id: int) -> list[ItemHistory]:
    if session.get(Item, item_id) is None:
        raise NotFound(f"item {item_id} does not exist")
    return list(
        session.scalars(
            select(ItemHistory)
            .where(ItemHistory.item_id == item_id)
            .order_by(ItemHistory.changed_at.desc(), ItemHistory.id.desc())
        )
    )
