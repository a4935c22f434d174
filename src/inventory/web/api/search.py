"""Search: ask in plain words, get the item and where it is."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from inventory import search as service
from inventory.catalog.item_queries import ItemFilter
from inventory.db.models import Role
from inventory.web.api.schemas import SearchQuery, SearchResultsSchema
from inventory.web.auth import requires
from inventory.web.context import db, embedder, location_tree

blp = Blueprint("search", __name__, description='"Where is my …?"')


@blp.route("", methods=["GET"])
@blp.arguments(SearchQuery, location="query")
@blp.response(200, SearchResultsSchema)
@requires(Role.viewer)
def search(query: dict[str, Any]) -> service.SearchResults:
    """Best matches first, each with its location path and why it matched (matched words,
    "similar meaning" or the place named). `mode` is "keyword" when the model is unavailable."""
    filters = ItemFilter(
        location_id=query.get("location_id"), tag=query.get("tag"), archived=query["archived"]
    )
    return service.search(
        session=db(),
        query=query["q"],
        limit=query["limit"],
        filters=filters,
        embedder=embedder(),
        tree=location_tree(),
    )
