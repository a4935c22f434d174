"""What the home page shows: recent items, warranties running out, items per place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.catalog.locations import item_counts
from inventory.catalog.tree import LocationTree
from inventory.db.models import Item

WARRANTY_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Dashboard:
    recently_added: list[Item]
    recently_changed: list[Item]
    warranties_ending: list[Item]
    # (top-level location name, items in it or beneath it), largest first; None: no place.
    counts_by_place: list[tuple[str, int]]


def dashboard(*, session: Session, today: date | None = None, limit: int = 8) -> Dashboard:
    today = today or date.today()
    current = select(Item).where(Item.archived.is_(False))
    added = list(
        session.scalars(current.order_by(Item.created_at.desc(), Item.id.desc()).limit(limit))
    )
    changed = list(
        session.scalars(
            current.where(Item.updated_at > Item.created_at)
            .order_by(Item.updated_at.desc(), Item.id.desc())
            .limit(limit)
        )
    )
    ending = list(
        session.scalars(
            current.where(Item.warranty_expires.between(today, today + WARRANTY_WINDOW)).order_by(
                Item.warranty_expires, Item.id
            )
        )
    )
    return Dashboard(added, changed, ending, _counts_by_place(session))


def _counts_by_place(session: Session) -> list[tuple[str, int]]:
    tree = LocationTree.load(session)
    totals: dict[str, int] = {}
    for location_id, count in item_counts(session=session).items():
        names = tree.names(location_id)
        place = names[0] if names else "(no location)"
        totals[place] = totals.get(place, 0) + count
    return sorted(totals.items(), key=lambda pair: (-pair[1], pair[0].lower()))
