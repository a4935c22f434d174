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
from typing import Any

import psycopg
from pgvector.psycopg.vector import register_vector_info
from psycopg.types import TypeInfo
from sqlalchemy import Connection, event, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, lazyload, sessionmaker

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
    *,
    session: Session,
    item_ids: Sequence[int],
    embedder: Embedder,
    force: bool = False,
    tree: LocationTree | None = None,
) -> int:
    """Embed these items where their text or the model changed (all of them with `force`).
    `tree` saves loading the locations again when the caller has them.

    Writes in the caller's transaction and does not commit; returns how many were embedded.
    """
    texts = _texts(session, item_ids, tree)
    if not force:
        texts = _changed(session, texts, embedder.model)
    if texts:
        ids, chosen = list(texts), list(texts.values())
        store_vectors(session, ids, chosen, embedder.embed(chosen), embedder.model)
    return len(texts)


def _texts(session: Session, item_ids: Sequence[int], tree: LocationTree | None) -> dict[int, str]:
    """The embedding text of each of these items (those that exist)."""
    # Photos and the location row play no part in the text: not loaded.
    statement = (
        select(Item)
        .where(Item.id.in_(item_ids))
        .options(lazyload(Item.photos), lazyload(Item.location))
    )
    items = list(session.scalars(statement))
    if not items:
        return {}
    tree = tree if tree is not None else LocationTree.load(session)
    return {item.id: embedding_text(item, tree) for item in items}


def _changed(session: Session, texts: dict[int, str], model: str) -> dict[int, str]:
    """Those texts whose stored vector is missing, stale, from another model or another text."""
    current = dict(
        session.execute(
            select(ItemEmbedding.item_id, ItemEmbedding.text_hash).where(
                ItemEmbedding.item_id.in_(texts),
                ItemEmbedding.model == model,
                ItemEmbedding.stale.is_(False),
            )
        ).all()
    )
    return {i: t for i, t in texts.items() if current.get(i) != text_hash(t)}


_UPSERT_VECTOR = """
    INSERT INTO item_embeddings (item_id, embedding, model, text_hash, stale)
    VALUES (%s, %b, %s, %s, false)
    ON CONFLICT (item_id) DO UPDATE SET embedding = excluded.embedding,
        model = excluded.model, text_hash = excluded.text_hash, stale = false, updated_at = now()
"""


def store_vectors(
    session: Session, ids: Sequence[int], texts: Sequence[str], vectors: Any, model: str
) -> None:
    """Upsert these items' vectors (made by `model` from `texts`) in the session's transaction.

    Sent in binary on a cursor of its own: as text, each 384-float vector costs more to
    format and parse than its insert."""
    connection = session.connection().connection.driver_connection
    assert isinstance(connection, psycopg.Connection), "the app runs on psycopg 3"
    with connection.cursor() as cursor:
        # On this cursor only: the connection goes back to the pool as it was.
        info = TypeInfo.fetch(connection, "vector")
        register_vector_info(cursor, info)  # type: ignore[arg-type]
        cursor.executemany(
            _UPSERT_VECTOR,
            [(i, v, model, text_hash(t)) for i, t, v in zip(ids, texts, vectors, strict=True)],
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
    return mismatch_notice((recorded.model, recorded.dimension) if recorded else None, embedder)


def mismatch_notice(recorded: tuple[str, int] | None, embedder: Embedder) -> str | None:
    """The same sentence from the recorded (model, dimension), when the caller has read it."""
    if recorded is None or recorded == (embedder.model, embedder.dimension):
        return None
    model, dimension = recorded
    return (
        f"the search index was built with {model} ({dimension}-d); "
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
    session.execute(text(f"DROP INDEX IF EXISTS {VECTOR_INDEX}"))
    session.execute(text("TRUNCATE item_embeddings"))
    session.execute(
        text(f"ALTER TABLE item_embeddings ALTER COLUMN embedding TYPE vector({int(dimension)})")
    )
    session.execute(text(f"CREATE INDEX {VECTOR_INDEX} {_INDEX_BODY}"))


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

    Redoing much of the index (BULK_REBUILD_MIN items or more, and at least half the stored
    vectors) drops the HNSW index first and builds it again at the end, even when interrupted:
    one build costs a fraction of as many single inserts. Meanwhile searches stay exact, only
    slower.
    Interrupted, nothing is lost: a new `reindex_plan` lists only what is still due, and the
    next `reindex`, even of nothing, builds the index if it is missing.
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


# ---- the HNSW index -------------------------------------------------------------------------

VECTOR_INDEX = "ix_item_embeddings_hnsw"
_INDEX_BODY = "ON item_embeddings USING hnsw (embedding vector_cosine_ops)"
# A reindex of at least this many items, and of at least half the stored vectors, rebuilds.
BULK_REBUILD_MIN = 5000
# Room for the whole graph while it is built (vectors plus links, with headroom); a graph that
# does not fit is built on disk, several times slower.
BUILD_BYTES_PER_DIMENSION = 4
BUILD_BYTES_PER_ROW = 1024
BUILD_MEMORY_MAX_MB = 1024


def _worth_rebuilding(session: Session, count: int) -> bool:
    if count < BULK_REBUILD_MIN:
        return False
    stored = session.scalar(select(func.count()).select_from(ItemEmbedding)) or 0
    return count * 2 >= stored


def drop_vector_index(session: Session) -> None:
    """Drop the HNSW index (commits): bulk writes then skip its per-row upkeep."""
    session.execute(text(f"DROP INDEX IF EXISTS {VECTOR_INDEX}"))
    session.commit()


def ensure_vector_index(session: Session) -> None:
    """Build the HNSW index if it is missing or left invalid by an interrupted build.

    CONCURRENTLY, so vectors can still be written meanwhile (items created, the embedding
    queue), with memory for the whole graph; in parallel where the server allows it.
    Commits the session first: the build waits for every open transaction, this one too.
    """
    valid = session.scalar(
        text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name"
        ),
        {"name": VECTOR_INDEX},
    )
    session.commit()
    if valid:
        return
    # Its own connection: CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    with session.get_bind().engine.connect() as connection:
        conn = connection.execution_options(isolation_level="AUTOCOMMIT")
        if valid is False:
            conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {VECTOR_INDEX}"))
        memory = _build_memory_mb(conn)
        try:
            _build_vector_index(conn, memory, parallel=True)
        except DBAPIError:
            # A parallel build keeps the graph in shared memory (/dev/shm), which containers
            # keep small (64 MB by default); one process builds it in its own memory.
            log.warning("parallel HNSW build failed; building in one process", exc_info=True)
            conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {VECTOR_INDEX}"))
            _build_vector_index(conn, memory, parallel=False)


def _build_vector_index(conn: Connection, memory_mb: int, *, parallel: bool) -> None:
    settings = {
        "maintenance_work_mem": f"{memory_mb}MB",
        "statement_timeout": "0",  # a large build outlasts the app's request limit
    }
    if not parallel:
        settings["max_parallel_maintenance_workers"] = "0"
    for name, value in settings.items():
        conn.execute(
            text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value}
        )
    try:
        conn.execute(text(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {VECTOR_INDEX} {_INDEX_BODY}"))
    finally:
        for name in settings:
            conn.execute(text(f"RESET {name}"))


def _build_memory_mb(conn: Connection) -> int:
    rows, dimension = conn.execute(
        text("SELECT count(*), coalesce(max(vector_dims(embedding)), 0) FROM item_embeddings")
    ).one()
    needed = rows * (dimension * BUILD_BYTES_PER_DIMENSION + BUILD_BYTES_PER_ROW)
    return int(min(BUILD_MEMORY_MAX_MB, max(64, needed // 2**20 + 1)))


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
