"""The HNSW index over the vectors: dropped for bulk writes, built (again) concurrently with
memory for the whole graph."""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

VECTOR_INDEX = "ix_item_embeddings_hnsw"
INDEX_BODY = "ON item_embeddings USING hnsw (embedding vector_cosine_ops)"
# Room for the whole graph while it is built (vectors plus links, with headroom); a graph that
# does not fit is built on disk, several times slower.
BUILD_BYTES_PER_DIMENSION = 4
BUILD_BYTES_PER_ROW = 1024
BUILD_MEMORY_MAX_MB = 1024


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
        conn.execute(text(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {VECTOR_INDEX} {INDEX_BODY}"))
    finally:
        for name in settings:
            conn.execute(text(f"RESET {name}"))


def _build_memory_mb(conn: Connection) -> int:
    rows, dimension = conn.execute(
        text("SELECT count(*), coalesce(max(vector_dims(embedding)), 0) FROM item_embeddings")
    ).one()
    needed = rows * (dimension * BUILD_BYTES_PER_DIMENSION + BUILD_BYTES_PER_ROW)
    return int(min(BUILD_MEMORY_MAX_MB, max(64, needed // 2**20 + 1)))
