"""Reindex: (re)embed many items in committed batches, rebuilding the HNSW index around a bulk
run; interrupted, it resumes with what is still due."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from inventory.catalog.tree import LocationTree
from inventory.db.models import Item, ItemEmbedding
from inventory.embeddings import Embedder
from inventory.search.hnsw import drop_vector_index, ensure_vector_index
from inventory.search.vectors import embed_items, pending_ids, record_model


def plan(*, session: Session, embedder: Embedder, everything: bool = False) -> list[int]:
    """Record this model as the index's (resizing the column for a new dimension) and list the
    items due: missing, stale or made by another model, or all of them with `everything`."""
    record_model(session=session, embedder=embedder)
    session.commit()
    if everything:
        return list(session.scalars(select(Item.id).order_by(Item.id)))
    return pending_ids(session=session, model=embedder.model)


def run(
    *,
    session: Session,
    embedder: Embedder,
    item_ids: Sequence[int],
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Embed these items one committed batch at a time; returns how many were embedded.

    Redoing much of the index (BULK_REBUILD_MIN items or more, and at least half the stored
    vectors) drops the HNSW index first and builds it again at the end, even when interrupted:
    one build costs a fraction of as many single inserts. Meanwhile searches stay exact, only
    slower.
    Interrupted, nothing is lost: a new `plan` lists only what is still due, and the
    next `run`, even of nothing, builds the index if it is missing.
    """
    bulk = _worth_rebuilding(session, len(item_ids))
    if bulk:
        drop_vector_index(session)
    try:
        done = _embed_in_batches(session, embedder, item_ids, batch_size, progress)
    finally:
        session.rollback()  # nothing half-done stays open while the index is built
        ensure_vector_index(session)
    if done:
        # Fresh statistics let the planner pick the HNSW and item indexes right away after a
        # bulk load (an import is usually what made the reindex due).
        session.execute(text("ANALYZE items, item_embeddings"))
        session.commit()
    return done


def _embed_in_batches(
    session: Session,
    embedder: Embedder,
    item_ids: Sequence[int],
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> int:
    done = 0
    tree = LocationTree.load(session)  # locations do not change under a reindex
    for start in range(0, len(item_ids), batch_size):
        batch = item_ids[start : start + batch_size]
        done += embed_items(
            session=session, item_ids=batch, embedder=embedder, force=True, tree=tree
        )
        session.commit()
        session.expunge_all()  # a 100k-item run must not keep every item in memory
        if progress is not None:
            progress(len(batch))
    return done


# A reindex of at least this many items, and of at least half the stored vectors, rebuilds.
BULK_REBUILD_MIN = 5000


def _worth_rebuilding(session: Session, count: int) -> bool:
    if count < BULK_REBUILD_MIN:
        return False
    stored = session.scalar(select(func.count()).select_from(ItemEmbedding)) or 0
    return count * 2 >= stored
