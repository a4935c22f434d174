"""Keeps each item's search document current when the item, its tags or its locations change."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from inventory.db.models import Item
from inventory.services.tree import subtree_ids

# The weighted full-text document: name A, tags B, location path C, everything else D.
_DOCUMENT = text(
    """
    WITH RECURSIVE paths(id, names) AS (
        SELECT id, name::text FROM locations WHERE parent_id IS NULL
        UNION ALL
        SELECT l.id, p.names || ' ' || l.name FROM locations l JOIN paths p ON l.parent_id = p.id
    )
    UPDATE items i SET search_vector =
        setweight(to_tsvector('english', i.name), 'A')
        || setweight(to_tsvector('english', coalesce((
            SELECT string_agg(t.name, ' ') FROM item_tags it JOIN tags t ON t.id = it.tag_id
            WHERE it.item_id = i.id), '')), 'B')
        || setweight(to_tsvector('english', coalesce((
            SELECT names FROM paths WHERE paths.id = i.location_id), '')), 'C')
        || setweight(to_tsvector('english', concat_ws(' ',
            i.description, i.manufacturer, i.model, i.serial_number, i.vendor, i.notes, (
            SELECT string_agg(concat_ws(' ', f->>'name', f->>'value'), ' ')
            FROM jsonb_array_elements(i.custom_fields) f))), 'D')
    WHERE i.id = ANY(:ids)
    """
)


def refresh_items(
    session: Session,
    *,
    item_ids: Sequence[int] = (),
    in_subtrees_of: Sequence[int] = (),
) -> list[int]:
    """Recompute the search documents of these items and of all items under these locations."""
    conditions = []
    if item_ids:
        conditions.append(Item.id.in_(item_ids))
    if in_subtrees_of:
        conditions.append(Item.location_id.in_(select(subtree_ids(*in_subtrees_of))))
    if not conditions:
        return []
    ids = list(session.scalars(select(Item.id).where(or_(*conditions))))
    if ids:
        session.execute(_DOCUMENT, {"ids": ids})
    return ids
