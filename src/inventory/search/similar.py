"""Similar items and likely duplicates, by the meaning vectors of items."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from inventory.catalog.item_queries import ItemFilter, get_item
from inventory.catalog.tree import LocationTree
from inventory.db.models import Item, ItemEmbedding
from inventory.embeddings import Embedder
from inventory.errors import DomainError
from inventory.search import vectors
from inventory.search.ranking import EF_SEARCH, SIMILAR_MEANING, SearchHit

# Cosine similarity from which a new item is reported as a possible duplicate: measured on
# all-MiniLM-L6-v2, rewordings of one item score 0.81-0.88 (with or without description and
# place), another brand of the same kind of thing 0.73 and below.
DUPLICATE_SIMILARITY = 0.8


class EmbeddingsUnavailable(DomainError):
    status = 503
    title = "Semantic search unavailable"


def similar_items(
    *, session: Session, item_id: int, embedder: Embedder | None, limit: int = 10
) -> list[SearchHit]:
    """Other (not archived) items closest in meaning to this one, closest first."""
    vector = _vector_of(session, item_id, embedder)
    return _nearest(session, item_id, vector, embedder, limit, 0.0)


def possible_duplicates(
    *, session: Session, item_id: int, embedder: Embedder | None, limit: int = 5
) -> list[SearchHit]:
    """Items so close in meaning to this one that they are probably the same thing.

    Empty when embeddings are unavailable: duplicate hints are a courtesy, never a failure.
    """
    if embedder is None:
        return []
    vector = _vector_of(session, item_id, embedder)
    return _nearest(session, item_id, vector, embedder, limit, DUPLICATE_SIMILARITY)


def _vector_of(session: Session, item_id: int, embedder: Embedder | None) -> Any:
    get_item(session=session, item_id=item_id)
    if embedder is None:
        raise EmbeddingsUnavailable("the embedding model is not loaded; similar items need it")
    # Embeds now if the stored vector is missing, stale or from another model.
    if vectors.embed_items(session=session, item_ids=[item_id], embedder=embedder):
        session.commit()
    return session.scalar(select(ItemEmbedding.embedding).where(ItemEmbedding.item_id == item_id))


def _nearest(
    session: Session,
    item_id: int,
    vector: Any,
    embedder: Embedder | None,
    limit: int,
    floor: float,
) -> list[SearchHit]:
    assert embedder is not None
    session.execute(text(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}"))
    distance = ItemEmbedding.embedding.cosine_distance(vector)
    statement = (
        ItemFilter()
        .apply(select(Item, distance))
        .join(ItemEmbedding, ItemEmbedding.item_id == Item.id)
        .where(Item.id != item_id, ItemEmbedding.model == embedder.model)
        .order_by(distance)
        .limit(limit)
    )
    rows = session.execute(statement).unique().all()
    tree = LocationTree.load(session)
    return [
        SearchHit(
            item=item,
            location_path=tree.path(item.location_id),
            score=round(1.0 - float(d), 4),
            reason=SIMILAR_MEANING,
        )
        for item, d in rows
        if 1.0 - float(d) >= floor
    ]
