"""Keeps each item's search document and meaning vector current when the item, its tags or
its locations change.

The full-text document is updated in the same statement as the change. Vectors are embedded
in the request for a few items (when an embedder is passed), otherwise marked stale and done
by the process's `EmbeddingQueue` after commit; `reindex` finishes whatever is left."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import event, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from inventory.db.models import EmbeddingIndex, Item, ItemEmbedding
from inventory.embeddings import Embedder
from inventory.services.tree import LocationTree, subtree_ids

log = logging.getLogger(__name__)

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


# ---- embeddings -----------------------------------------------------------------------------

# Up to this many items are embedded inside the request (≈5 ms each); more go to the queue.
EMBED_INLINE_LIMIT = 8
EMBED_BATCH = 64
# session.info key: items whose vectors must be redone once this transaction commits.
PENDING = "inventory.embeddings_pending"


def _refresh_embeddings(session: Session, ids: list[int], embedder: Embedder | None) -> None:
    if embedder is not None and len(ids) <= EMBED_INLINE_LIMIT:
        embed_items(session=session, item_ids=ids, embedder=embedder)
        return
    # Keep the old vectors searchable until the new ones are ready; the queue redoes them.
    session.execute(update(ItemEmbedding).where(ItemEmbedding.item_id.in_(ids)).values(stale=True))
    session.info.setdefault(PENDING, set()).update(ids)


def embedding_text(item: Item, tree: LocationTree) -> str:
    """What an item means, in words: name, maker, description, tags, fields and its place."""
    parts = [item.name, " ".join(filter(None, (item.manufacturer, item.model))), item.description]
    if item.tags:
        parts.append("Tags: " + ", ".join(tag.name for tag in item.tags))
    for entry in item.custom_fields or []:
        parts.append(f"{entry.get('name', '')}: {entry.get('value', '')}")
    path = tree.names(item.location_id)
    if path:
        parts.append("Location: " + " / ".join(path))
    return ". ".join(part.strip() for part in parts if part and part.strip())


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def embed_items(
    *, session: Session, item_ids: Sequence[int], embedder: Embedder, force: bool = False
) -> int:
    """Embed these items where their text or the model changed (all of them with `force`).

    Writes in the caller's transaction and does not commit; returns how many were embedded.
    """
    items = list(session.scalars(select(Item).where(Item.id.in_(item_ids))).unique())
    if not items:
        return 0
    tree = LocationTree.load(session)
    texts = {item.id: embedding_text(item, tree) for item in items}
    current = dict(
        session.execute(
            select(ItemEmbedding.item_id, ItemEmbedding.text_hash).where(
                ItemEmbedding.item_id.in_(texts),
                ItemEmbedding.model == embedder.model,
                ItemEmbedding.stale.is_(False),
            )
        ).all()
    )
    todo = [i for i, t in texts.items() if force or current.get(i) != text_hash(t)]
    if todo:
        _store(session, todo, [texts[i] for i in todo], embedder)
    return len(todo)


def _store(session: Session, ids: list[int], texts: list[str], embedder: Embedder) -> None:
    vectors = embedder.embed(texts)
    rows = [
        {
            "item_id": i,
            "embedding": v,
            "model": embedder.model,
            "text_hash": text_hash(t),
            "stale": False,
        }
        for i, t, v in zip(ids, texts, vectors, strict=True)
    ]
    statement = insert(ItemEmbedding).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[ItemEmbedding.item_id],
            set_={
                "embedding": statement.excluded.embedding,
                "model": statement.excluded.model,
                "text_hash": statement.excluded.text_hash,
                "stale": False,
                "updated_at": func.now(),
            },
        )
    )


def pending_ids(*, session: Session, model: str) -> list[int]:
    """Items with no vector, a stale one, or one made by another model."""
    statement = (
        select(Item.id)
        .outerjoin(ItemEmbedding, ItemEmbedding.item_id == Item.id)
        .where(
            or_(
                ItemEmbedding.item_id.is_(None),
                ItemEmbedding.stale.is_(True),
                ItemEmbedding.model != model,
            )
        )
        .order_by(Item.id)
    )
    return list(session.scalars(statement))


def recorded_model(*, session: Session) -> EmbeddingIndex | None:
    return session.get(EmbeddingIndex, 1)


def model_notice(*, session: Session, embedder: Embedder) -> str | None:
    """A sentence for the user when stored vectors were made by another model."""
    recorded = recorded_model(session=session)
    if recorded is None or (recorded.model, recorded.dimension) == (
        embedder.model,
        embedder.dimension,
    ):
        return None
    return (
        f"the search index was built with {recorded.model} ({recorded.dimension}-d); "
        f"run `inventory search reindex` for {embedder.model}"
    )


def record_model(*, session: Session, embedder: Embedder) -> None:
    """Name the model the index is built with; a new dimension resizes the (emptied) column."""
    if _column_dimension(session) != embedder.dimension:
        _resize(session, embedder.dimension)
    statement = insert(EmbeddingIndex).values(
        id=1, model=embedder.model, dimension=embedder.dimension
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[EmbeddingIndex.id],
            set_={
                "model": embedder.model,
                "dimension": embedder.dimension,
                "updated_at": func.now(),
            },
        )
    )


def _column_dimension(session: Session) -> int:
    # pgvector keeps a vector column's size in atttypmod.
    return int(
        session.scalar(
            text(
                "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'item_embeddings'::regclass "
                "AND attname = 'embedding'"
            )
        )
        or 0
    )


def _resize(session: Session, dimension: int) -> None:
    session.execute(text("DROP INDEX IF EXISTS ix_item_embeddings_hnsw"))
    session.execute(text("TRUNCATE item_embeddings"))
    session.execute(
        text(f"ALTER TABLE item_embeddings ALTER COLUMN embedding TYPE vector({int(dimension)})")
    )
    session.execute(
        text(
            "CREATE INDEX ix_item_embeddings_hnsw ON item_embeddings "
            "USING hnsw (embedding vector_cosine_ops)"
        )
    )


def reindex_plan(*, session: Session, embedder: Embedder, everything: bool = False) -> list[int]:
    """Record this model as the index's (resizing the column for a new dimension) and list the
    items due: missing, stale or made by another model, or all of them with `everything`."""
    record_model(session=session, embedder=embedder)
    session.commit()
    if everything:
        return list(session.scalars(select(Item.id).order_by(Item.id)))
    return pending_ids(session=session, model=embedder.model)


def reindex(
    *,
    session: Session,
    embedder: Embedder,
    item_ids: Sequence[int],
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Embed these items one committed batch at a time; returns how many were embedded.

    Interrupted, nothing is lost: a new `reindex_plan` lists only what is still due.
    """
    done = 0
    for start in range(0, len(item_ids), batch_size):
        batch = item_ids[start : start + batch_size]
        done += embed_items(session=session, item_ids=batch, embedder=embedder, force=True)
        session.commit()
        session.expunge_all()  # a 100k-item run must not keep every item in memory
        if progress is not None:
            progress(len(batch))
    if done:
        # Fresh statistics let the planner pick the HNSW index right away after a bulk load.
        session.execute(text("ANALYZE item_embeddings"))
        session.commit()
    return done


class EmbeddingQueue:
    """Embeds items whose vectors went stale (e.g. under a renamed location) in batches, on
    one background thread per process, after the change that caused it has committed.

    `attach()` listens to commits of sessions made by `sessions`; the thread starts on first
    use in each process, so a queue built before Gunicorn forks works in every worker.
    Failures are logged, never raised: stale rows stay marked and `search reindex` redoes them.
    """

    def __init__(
        self, *, sessions: sessionmaker[Session], embedder: Embedder, batch_size: int = EMBED_BATCH
    ) -> None:
        self.sessions = sessions
        self.embedder = embedder
        self.batch_size = batch_size
        self._pending: set[int] = set()
        self._busy = False
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def attach(self) -> None:
        event.listen(self.sessions, "after_commit", self._after_commit)
        event.listen(self.sessions, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        ids = session.info.pop(PENDING, None)
        if ids:
            self.submit(ids)

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(PENDING, None)

    def submit(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._pending.update(ids)
            self._ensure_thread()
            self._lock.notify_all()

    def pending(self) -> int:
        """How many items wait for new vectors in this process."""
        with self._lock:
            return len(self._pending)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """True once nothing is pending or being embedded (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def _ensure_thread(self) -> None:
        # Threads do not survive fork(): each process starts its own.
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="embedding-queue", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    self._busy = False
                    self._lock.notify_all()
                    self._lock.wait()
                batch = sorted(self._pending)[: self.batch_size]
                self._pending.difference_update(batch)
                self._busy = True
            self._embed(batch)

    def _embed(self, batch: list[int]) -> None:
        try:
            with self.sessions() as session:
                embed_items(session=session, item_ids=batch, embedder=self.embedder)
                session.commit()
        except Exception:  # logged; the rows stay stale for `search reindex`
            log.exception("embedding %d item(s) failed", len(batch))
