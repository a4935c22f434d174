"""Meaning vectors of items: the text an item is embedded from, embedding and storing them,
which are due, and the model (and dimension) the stored vectors were made with."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import psycopg
from pgvector.psycopg.vector import register_vector_info
from psycopg.types import TypeInfo
from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, lazyload

from inventory.catalog.tree import LocationTree
from inventory.db.models import EmbeddingIndex, Item, ItemEmbedding
from inventory.embeddings import Embedder
from inventory.search.hnsw import INDEX_BODY, VECTOR_INDEX


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
    session.execute(text(f"CREATE INDEX {VECTOR_INDEX} {INDEX_BODY}"))
