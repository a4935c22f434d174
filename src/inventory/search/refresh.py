"""Keeps each item's search document and meaning vector current when the item, its tags or
its locations change.

The full-text document is updated in the same statement as the change. Vectors are embedded
in the request for a few items (when an embedder is passed), otherwise marked stale and done
by the process's `EmbeddingQueue` after commit; `reindex` finishes whatever is left."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from inventory.catalog.tree import subtree_ids
from inventory.db.models import Item, ItemEmbedding
from inventory.embeddings import Embedder
from inventory.search.vectors import embed_items

# The weighted full-text document: name A, tags B, location path C, everything else D.
_DOCUMENT = text(
    """
    WITH RECURSIVE paths(id, names) AS (
        SELECT id, name::text FROM locations WHERE parent_id IS NULL
        UNION ALL
        SELECT l.id, p.names || ' ' || l.name FROM locations l JOIN paths p ON l.parent_id = p.id
    )
    UPDATE items i SET search_vector =
        setweight(to_tsvector('english', translate(i.name, '/', ' ')), 'A')
        || setweight(to_tsvector('english', coalesce((
            SELECT string_agg(t.name, ' ') FROM item_tags it JOIN tags t ON t.id = it.tag_id
            WHERE it.item_id = i.id), '')), 'B')
        || setweight(to_tsvector('english', coalesce((
            SELECT names FROM paths WHERE paths.id = i.location_id), '')), 'C')
        || setweight(to_tsvector('english', translate(concat_ws(' ',
            i.description, i.manufacturer, i.model, i.serial_number, i.vendor, i.notes, (
            SELECT string_agg(concat_ws(' ', f->>'name', f->>'value'), ' ')
            FROM jsonb_array_elements(i.custom_fields) f)), '/', ' ')), 'D')
    WHERE i.id = ANY(:ids)
    """
)


def refresh_items(
    session: Session,
    *,
    item_ids: Sequence[int] = (),
    in_subtrees_of: Sequence[int] = (),
    embedder: Embedder | None = None,
) -> list[int]:
    """Recompute the search documents of these items and of all items under these locations,
    and their vectors (now when few and `embedder` is given, else by the queue after commit)."""
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
        _refresh_embeddings(session, ids, embedder)
    return ids


# Up to this many items are embedded inside the request (≈5 ms each); more go to the queue.
EMBED_INLINE_LIMIT = 8
# session.info key: items whose vectors must be redone once this transaction commits.
PENDING = "inventory.embeddings_pending"


def _refresh_embeddings(session: Session, ids: list[int], embedder: Embedder | None) -> None:
    if embedder is not None and len(ids) <= EMBED_INLINE_LIMIT:
        embed_items(session=session, item_ids=ids, embedder=embedder)
        return
    # Keep the old vectors searchable until the new ones are ready; the queue redoes them.
    session.execute(update(ItemEmbedding).where(ItemEmbedding.item_id.in_(ids)).values(stale=True))
    session.info.setdefault(PENDING, set()).update(ids)
