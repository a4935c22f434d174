"""Engine and sessions. One `Database` per process; `after_fork` keeps forked workers
from sharing the parent's pooled connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from inventory.settings import Settings

# Fail fast when the server is away: a request should get a 503, not hang. 2 s is psycopg's
# minimum; a connect whose SYN was lost (a restarting container) is retried by the next request.
CONNECT_TIMEOUT_S = 2
STATEMENT_TIMEOUT_MS = 30_000


class _Session(Session):
    def close(self) -> None:
        """Close; when the connection was lost meanwhile (the server went away), drop it
        instead of failing: the server has rolled back already."""
        try:
            super().close()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            self.invalidate()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
            pool_timeout=5,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_S,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                "application_name": "inventory",
            },
        )
        self.sessions = sessionmaker[Session](self.engine, class_=_Session, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that is always closed; services decide when to commit."""
        with self.sessions() as session:
            yield session

    def after_fork(self) -> None:
        self.engine.dispose(close=False)

    def close(self) -> None:
        self.engine.dispose()


def open_database(settings: Settings) -> Database:
    """Connect to POSTGRES_HOST, or start the embedded server when it is not set."""
    if settings.embedded_database:
        from inventory.db import embedded

        url = embedded.start(settings.data_dir / "postgres", settings.postgres_db)
    else:
        url = settings.database_url()
    return Database(url)
