"""Semantic search: one vector per item (pgvector, HNSW cosine) and the model that made them.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSION = 384


def upgrade() -> None:
    # Vectors start here, so a schema at 0001 (an older Pi install) needs no pgvector; on
    # installs made when 0001 created it, this is a no-op.
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "item_embeddings",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("embedding", Vector(DIMENSION), nullable=False),
        sa.Column("model", sa.String(length=500), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("stale", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id"),
    )
    op.create_index(
        "ix_item_embeddings_hnsw",
        "item_embeddings",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    # Only the few rows waiting for work are indexed: reindex finds leftovers quickly.
    op.create_index(
        "ix_item_embeddings_stale",
        "item_embeddings",
        ["item_id"],
        postgresql_where=sa.text("stale"),
    )
    op.create_table(
        "embedding_index",
        sa.Column("id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("model", sa.String(length=500), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name="ck_embedding_index_single_row"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("embedding_index")
    op.drop_index("ix_item_embeddings_stale", table_name="item_embeddings")
    op.drop_index("ix_item_embeddings_hnsw", table_name="item_embeddings")
    op.drop_table("item_embeddings")
