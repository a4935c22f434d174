"""Request-scoped state: the database session, the signed-in user, the location tree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flask import current_app, g
from sqlalchemy.orm import Session

from inventory.catalog.tree import LocationTree
from inventory.db.models import User
from inventory.db.session import Database
from inventory.embeddings import Embedder
from inventory.jobs import JobRunner
from inventory.settings import Settings


@dataclass(frozen=True)
class Principal:
    user: User
    method: Literal["token", "session"]


def settings() -> Settings:
    value: Settings = current_app.extensions["inventory.settings"]
    return value


def database() -> Database:
    value: Database = current_app.extensions["inventory.database"]
    return value


def db() -> Session:
    """The request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    session: Session = g.db_session
    return session


def close_db(_: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def principal() -> Principal | None:
    value: Principal | None = g.get("principal")
    return value


def current_user() -> User:
    """The signed-in user; only called from views that require one."""
    found = principal()
    assert found is not None, "view reached without authentication"
    return found.user


def location_tree() -> LocationTree:
    if "location_tree" not in g:
        g.location_tree = LocationTree.load(db())
    tree: LocationTree = g.location_tree
    return tree


def embedder() -> Embedder | None:
    """The process's embedding model, or None when it could not be loaded."""
    value: Embedder | None = current_app.extensions.get("inventory.embedder")
    return value


def job_runner() -> JobRunner:
    value: JobRunner = current_app.extensions["inventory.jobs"]
    return value
