-- Runs once, when the postgres_data volume is empty, in POSTGRES_DB as POSTGRES_USER.
-- pgvector stores the embeddings for semantic search. The app's first migration creates it
-- too; doing it here as well means the app never needs to be a superuser for it.
CREATE EXTENSION IF NOT EXISTS vector;
