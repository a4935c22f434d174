"""Alembic environment: always runs on the connection handed over by db.migrate."""

from alembic import context

from inventory.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `inventory db upgrade`")

context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
