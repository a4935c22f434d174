"""Search: "where is my …?" answered with the item and its place.

Keyword ranking over the weighted full-text document (name above tags above location above
description). Filters are applied in SQL, before ranking and limiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory.db.models import Item
from inventory.services.items import ENGLISH, ItemFilter
from inventory.services.tree import LocationTree

# ts_rank_cd normalisation 32 maps a rank r to r / (r + 1): scores fall in 0..1.
RANK_NORMALISATION = 32


@dataclass(frozen=True)
class SearchHit:
    item: Item
    location_path: str
    score: float
    reason: str


@dataclass(frozen=True)
class SearchResults:
    results: list[SearchHit]
    mode: Literal["keyword", "hybrid"] = "keyword"
    notices: list[str] = field(default_factory=list)


def search(
    *, session: Session, query: str, limit: int = 10, filters: ItemFilter = ItemFilter()
) -> SearchResults:
    tsquery = func.websearch_to_tsquery(ENGLISH, query)
    rank = func.ts_rank_cd(Item.search_vector, tsquery, RANK_NORMALISATION).label("rank")
    statement = (
        filters.apply(select(Item, rank))
        .where(Item.search_vector.op("@@")(tsquery))
        .order_by(rank.desc(), Item.id)
        .limit(limit)
    )
    rows = session.execute(statement).unique().all()
    tree = LocationTree.load(session)
    matched = _terms(session, query)
    hits = [
        SearchHit(
            item=item,
            location_path=tree.path(item.location_id),
            score=round(float(score), 4),
            reason=f"matched: {', '.join(matched)}" if matched else "matched",
        )
        for item, score in rows
    ]
    return SearchResults(results=hits)


def _terms(session: Session, query: str) -> list[str]:
    """The stemmed words PostgreSQL searched for, for the result's reason."""
    lexemes = session.scalar(select(func.tsvector_to_array(func.to_tsvector(ENGLISH, query))))
    return list(lexemes or [])
