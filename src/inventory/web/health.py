"""GET /health: is the app ready to serve? Used by Docker, nginx and people."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from inventory.db import migrate
from inventory.web.auth import public
from inventory.web.context import database, settings

bp = Blueprint("health", __name__)


@bp.get("/health")
@public
def health() -> tuple[Response, int]:
    """200 when the database answers and the schema is current; 503 naming what is not.
    `embeddings` says whether the model for semantic search is loaded."""
    report: dict[str, Any] = {"status": "ok", "release": settings().release}
    try:
        with database().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        report["database"] = "ok"
        report["migrations"] = "ok" if migrate.is_current(database().engine) else "pending"
    except SQLAlchemyError:
        report["database"] = "unavailable"
    # Search still answers by keyword without the model: reported, but not a failure.
    loaded = current_app.extensions.get("inventory.embedder") is not None
    report["embeddings"] = "ok" if loaded else "unavailable"
    if report["database"] != "ok" or report.get("migrations") != "ok":
        report["status"] = "unavailable"
    return jsonify(report), 200 if report["status"] == "ok" else 503
