"""The home page and the search page."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from inventory import search as search_service
from inventory.catalog.dashboard import dashboard
from inventory.db.models import Role
from inventory.web.auth import requires
from inventory.web.context import db, embedder, location_tree

bp = Blueprint("home", __name__)


@bp.get("/")
@requires(Role.viewer)
def index() -> str:
    board = dashboard(session=db())
    peak = max((count for _, count in board.counts_by_place), default=0)
    return render_template("home.html", board=board, peak=peak, tree=location_tree())


@bp.get("/search")
@requires(Role.viewer)
def search() -> str:
    """Results without JavaScript; the page's script shows them as you type."""
    query = request.args.get("q", "").strip()[:500]
    results = (
        search_service.search(session=db(), query=query, limit=20, embedder=embedder())
        if query
        else None
    )
    return render_template("search.html", query=query, results=results, tree=location_tree())
