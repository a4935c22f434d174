"""A database connection lost in the middle of a request: the request is answered with a 503
problem, and closing its session does not fail (which would turn the answer into Gunicorn's
bare 500 page). Seen in the compose fault tests when PostgreSQL stopped under load."""

from __future__ import annotations

import psycopg
import pytest
from flask import Flask
from sqlalchemy import text

from inventory.db.session import Database


def _terminate(database: Database, backend: int) -> None:
    with database.engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})


def test_a_session_whose_connection_died_closes_cleanly(database: Database) -> None:
    session = database.sessions()
    backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    _terminate(database, backend)
    # Code that talks to the driver directly (pgvector's type lookup does) sees it first.
    driver = session.connection().connection.dbapi_connection
    assert driver is not None
    with pytest.raises(psycopg.OperationalError):
        driver.execute("SELECT 1")

    session.close()

    with database.session() as fresh:
        assert fresh.execute(text("SELECT 1")).scalar_one() == 1


def test_a_driver_error_about_the_connection_is_a_503_problem(app: Flask) -> None:
    with app.test_request_context("/api/v1/items", headers={"Accept": "application/json"}):
        lost = psycopg.OperationalError("the connection is lost")
        response = app.make_response(app.handle_user_exception(lost))

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "database" in response.get_json()["detail"]
    assert response.headers["Retry-After"] == "5"
