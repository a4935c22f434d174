"""Search: "where is my …?" answered with the item and its place.

Keyword ranking over the weighted full-text document (name above tags above location above
description). Filters are applied in SQL, before ranking and limiting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import ARRAY, Text, cast, func, select
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
    lexemes = func.tsvector_to_array(Item.search_vector, type_=ARRAY(Text))
    statement = (
        filters.apply(select(Item, rank, lexemes))
        .where(Item.search_vector.op("@@")(tsquery))
        .order_by(rank.desc(), Item.id)
        .limit(limit)
    )
    rows = session.execute(statement).all()
    tree = LocationTree.load(session)
    stems = word_stems(session, query)
    hits = [
        SearchHit(
            item=item,
            location_path=tree.path(item.location_id),
            score=round(float(score), 4),
            reason=matched_words(stems, item_lexemes),
        )
        for item, score, item_lexemes in rows
    ]
    return SearchResults(results=hits)


def word_stems(session: Session, query: str) -> dict[str, set[str]]:
    """Each word of the query with the stems PostgreSQL indexes it under."""
    words = list(dict.fromkeys(re.findall(r"\w+", query.lower())))[:50]
    if not words:
        return {}
    word = func.unnest(cast(words, ARRAY(Text))).table_valued("word").render_derived()
    rows = session.execute(
        select(word.c.word, func.tsvector_to_array(func.to_tsvector(ENGLISH, word.c.word)))
    )
    return {w: set(stems or ()) for w, stems in rows if stems}


def matched_words(stems: dict[str, set[str]], lexemes: list[str] | None) -> str:
    """The reason shown with a keyword hit: the user's own words that matched."""
    found = set(lexemes or ())
    words = [word for word, word_stems in stems.items() if word_stems & found]
    return f"matched: {', '.join(words)}" if words else "matched"
