"""Typed SQLAlchemy models. Schema changes go through Alembic migrations (db/migrations)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    Sequence,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


# Source of the short human asset IDs ("000-123").
asset_id_sequence = Sequence("item_asset_seq", metadata=Base.metadata)


def _now_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Role(enum.StrEnum):
    """Ordered by power: each role may do everything the ones before it may."""

    viewer = "viewer"
    editor = "editor"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (Index("uq_users_username_lower", func.lower(username), unique=True),)


class UserSession(Base):
    """A signed-in browser. The cookie carries the token; only its hash is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = _now_column()
    last_seen_at: Mapped[datetime] = _now_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = _now_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="joined")


class LoginThrottle(Base):
    """Failed sign-in counter per account ("user:name") and per address ("ip:1.2.3.4")."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_failure_at: Mapped[datetime] = _now_column()
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Location(Base):
    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default="")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        # Sibling names are unique regardless of case; top level counts as parent 0.
        Index(
            "uq_locations_sibling_name",
            func.coalesce(parent_id, 0),
            func.lower(name),
            unique=True,
        ),
    )


item_tags = Table(
    "item_tags",
    Base.metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (Index("uq_tags_name_lower", func.lower(name), unique=True),)


class Item(Base):
    """An item. Columns with a label in `info` are its plain fields: the API, CSV, the item
    form and the history derive theirs from them (catalog.fields)."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200), info={"label": "Name", "required": True})
    description: Mapped[str] = mapped_column(Text, server_default="", info={"label": "Description"})
    quantity: Mapped[Decimal] = mapped_column(
        Numeric(14, 3), server_default="1", info={"label": "Quantity"}
    )
    unit: Mapped[str] = mapped_column(String(32), server_default="", info={"label": "Unit"})
    location_id: Mapped[int | None] = mapped_column(
        ForeignKey("locations.id", ondelete="RESTRICT"), index=True
    )
    manufacturer: Mapped[str] = mapped_column(
        String(200), server_default="", info={"label": "Manufacturer"}
    )
    model: Mapped[str] = mapped_column(String(200), server_default="", info={"label": "Model"})
    serial_number: Mapped[str] = mapped_column(
        String(200), server_default="", info={"label": "Serial number"}
    )
    purchase_date: Mapped[date | None] = mapped_column(Date, info={"label": "Purchase date"})
    purchase_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), info={"label": "Price"})
    currency: Mapped[str] = mapped_column(
        String(3),
        server_default="",
        info={
            "label": "Currency",
            "pattern": r"^([A-Z]{3})?$",
            "pattern_error": "must be a 3-letter code such as EUR",
        },
    )
    vendor: Mapped[str] = mapped_column(
        String(200), server_default="", info={"label": "Bought from"}
    )
    warranty_expires: Mapped[date | None] = mapped_column(Date, info={"label": "Warranty until"})
    notes: Mapped[str] = mapped_column(Text, server_default="", info={"label": "Notes"})
    archived: Mapped[bool] = mapped_column(
        Boolean, server_default=text("false"), index=True, info={"label": "Archived"}
    )
    custom_fields: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb"), info={"label": "Custom fields"}
    )
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # The key of the record this item was imported from ("homebox:<import_ref>",
    # "snipeit:<asset tag>", "grocy:<product>@<location>"): a re-import updates, not duplicates.
    # TODO(collections): unique per collection once items belong to one.
    import_ref: Mapped[str | None] = mapped_column(String(200))
    # Weighted full-text document (name A, tags B, location C, description and fields D),
    # kept current by search.refresh whenever any of its sources changes.
    search_vector: Mapped[Any] = mapped_column(TSVECTOR, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = _now_column()

    location: Mapped[Location | None] = relationship(lazy="joined")
    tags: Mapped[list[Tag]] = relationship(
        secondary=item_tags, lazy="selectin", order_by=lambda: func.lower(Tag.name)
    )
    photos: Mapped[list[Photo]] = relationship(
        lazy="selectin",
        order_by=lambda: Photo.position,
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    # Optimistic locking: a concurrent write to the same row fails instead of being lost.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once by the mapper
    __table_args__ = (
        Index("ix_items_search_vector", search_vector, postgresql_using="gin"),
        Index("ix_items_created_at", "created_at"),
        Index("ix_items_updated_at", "updated_at"),
        Index("ix_items_name_lower", func.lower(name)),
        Index(
            "uq_items_import_ref",
            import_ref,
            unique=True,
            postgresql_where=text("import_ref IS NOT NULL"),
        ),
    )


class ItemHistory(Base):
    """One row per changed field: who, when, old → new (JSON values)."""

    __tablename__ = "item_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    changed_at: Mapped[datetime] = _now_column()
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSONB, nullable=True)

    __table_args__ = (Index("ix_item_history_item_changed", item_id, changed_at),)


class Photo(Base):
    """A processed photo of an item; its files are named by `key` (content hash)."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    is_primary: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    original_filename: Mapped[str] = mapped_column(String(255), server_default="")
    created_at: Mapped[datetime] = _now_column()

    __table_args__ = (Index("uq_photos_item_key", item_id, key, unique=True),)


class ImageBlob(Base):
    """Image bytes when IMAGE_STORAGE_METHOD=database; `name` is the file's storage name."""

    __tablename__ = "image_blobs"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = _now_column()


class ItemEmbedding(Base):
    """An item's meaning as a vector (semantic search), made from its embedding text.

    `text_hash` tells whether the text changed since; `stale` marks rows waiting to be redone
    (a location above the item was renamed or moved); `model` is the model that made it.
    """

    __tablename__ = "item_embeddings"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    # The column's size follows the model; `inventory search reindex` changes it with the model.
    embedding: Mapped[Any] = mapped_column(Vector(384))
    model: Mapped[str] = mapped_column(String(500))
    text_hash: Mapped[str] = mapped_column(String(64))
    stale: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (
        Index(
            "ix_item_embeddings_hnsw",
            embedding,
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        Index("ix_item_embeddings_stale", item_id, postgresql_where=text("stale")),
    )


class EmbeddingIndex(Base):
    """The single row naming the model and dimension the stored vectors were made with."""

    __tablename__ = "embedding_index"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, server_default=text("1"))
    model: Mapped[str] = mapped_column(String(500))
    dimension: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = _now_column()

    __table_args__ = (CheckConstraint("id = 1", name="ck_embedding_index_single_row"),)


class JobInput(Base):
    """The file a job works on, kept in the database so that any app process (and a retry
    after a crash) can read it; a preview and the import that follows share one."""

    __tablename__ = "job_inputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # TODO(collections): collection_id, like the jobs that use it.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _now_column()


class Job(Base):
    """Long work done in the background: status queued → running → done | failed.

    A worker claims a queued job (FOR UPDATE SKIP LOCKED), beats `heartbeat_at` while it
    works, and commits the work together with status "done"; a job whose heartbeat stopped
    (its process died) is queued again until `attempts` reaches `max_attempts`, then failed.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    progress: Mapped[float] = mapped_column(Float, server_default=text("0"))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    input_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_inputs.id", ondelete="SET NULL"), index=True
    )
    result: Mapped[Any] = mapped_column(JSONB, nullable=True)
    errors: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    max_attempts: Mapped[int] = mapped_column(Integer, server_default=text("3"))
    worker: Mapped[str] = mapped_column(String(100), server_default="")
    # TODO(collections): collection_id (NOT NULL, FK) — a job belongs to a collection, and
    # the collection's admins may read it (jobs.service.get_job is the one place to check).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = _now_column()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_jobs_status"),
        Index(
            "ix_jobs_waiting",
            "status",
            "id",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )


class ImportMapping(Base):
    """A remembered column mapping for spreadsheets with this set of headers."""

    __tablename__ = "import_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # TODO(collections): collection_id, and make the key unique per collection.
    header_key: Mapped[str] = mapped_column(String(64), unique=True)
    headers: Mapped[list[str]] = mapped_column(JSONB)
    mapping: Mapped[dict[str, str]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = _now_column()
