"""Search: "where is my …?" answered with the item and its place.

Hybrid ranking: full-text (name above tags above location above description), vector
similarity of meaning, and items under locations whose names the query mentions, fused by
reciprocal rank fusion. Filters are applied in SQL inside every ranking, before limiting.
Without an embedder it answers by keyword alone and says so (`mode="keyword"`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ARRAY, Select, Text, cast, func, select, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from inventory.db.models import Item, ItemEmbedding, Location
from inventory.embeddings import Embedder
from inventory.services import indexing
from inventory.services.items import ENGLISH, ItemFilter
from inventory.services.tree import LocationTree

# ts_rank_cd normalisation 32 maps a rank r to r / (r + 1): scores fall in 0..1.
RANK_NORMALISATION = 32
# Reciprocal rank fusion: each list adds 1 / (RRF_K + rank); 60 is the usual constant.
RRF_K = 60
# Vector, keyword and place lists: a named place counts, but less than meaning or words,
# since place names double as object words ("box", "cabinet").
LIST_WEIGHTS = (1.0, 1.0, 0.5)
# How deep each ranking looks before fusion.
CANDIDATES = 50
# Below this cosine similarity a "similar meaning" is noise (all-MiniLM-L6-v2 scale).
MIN_SIMILARITY = 0.1
# HNSW candidate list; larger than the default 40 so SQL filters still leave enough rows.
EF_SEARCH = 100
SIMILAR_MEANING = "similar meaning"
UNAVAILABLE = "semantic search is unavailable; showing keyword matches only"


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
    *,
    session: Session,
    query: str,
    limit: int = 10,
    filters: ItemFilter | None = None,
    embedder: Embedder | None = None,
    mode: Literal["hybrid", "keyword", "vector"] = "hybrid",
) -> SearchResults:
    """Best matches first. `mode` other than hybrid serves comparisons (bench, tests)."""
    filters = filters or ItemFilter()
    # As in the indexed documents: "drill/driver" is two words, not a file path.
    query = query.replace("/", " ")
    if embedder is None or mode == "keyword":
        notices = [] if embedder is not None else [UNAVAILABLE]
        return _keyword_search(session, query, limit, filters, notices)
    vector = embedder.embed([query])[0]
    lists = [_vector_ranking(session, vector, embedder.model, filters)]
    if mode == "hybrid":
        lists += [
            _keyword_ranking(session, query, filters),
            _place_ranking(session, query, filters, vector),
        ]
    fused = fuse(lists, LIST_WEIGHTS[: len(lists)])[:limit]
    notice = indexing.model_notice(session=session, embedder=embedder)
    return SearchResults(
        results=_hits(session, query, fused, lists),
        mode="hybrid",
        notices=[notice] if notice else [],
    )


def fuse(
    rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion, scaled so an item first in every list scores 1."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item_id in enumerate(ranking, start=1):
            scores[item_id] = scores.get(item_id, 0.0) + weight / (RRF_K + rank)
    best = max(sum(w for r, w in zip(rankings, weights, strict=True) if r), 1e-9) / (RRF_K + 1)
    return sorted(((i, s / best) for i, s in scores.items()), key=lambda p: (-p[1], p[0]))


def _keyword_search(
    session: Session, query: str, limit: int, filters: ItemFilter, notices: list[str]
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
    return SearchResults(results=hits, mode="keyword", notices=notices)


def _ids(session: Session, statement: Select[Any]) -> list[int]:
    return list(session.scalars(statement))


def _keyword_ranking(session: Session, query: str, filters: ItemFilter) -> list[int]:
    tsquery = func.websearch_to_tsquery(ENGLISH, query)
    rank = func.ts_rank_cd(Item.search_vector, tsquery, RANK_NORMALISATION)
    statement = (
        filters.apply(select(Item.id))
        .where(Item.search_vector.op("@@")(tsquery))
        .order_by(rank.desc(), Item.id)
        .limit(CANDIDATES)
    )
    return _ids(session, statement)


def _vector_ranking(session: Session, vector: Any, model: str, filters: ItemFilter) -> list[int]:
    session.execute(text(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}"))
    distance = ItemEmbedding.embedding.cosine_distance(vector)
    if filters.narrows:
        # A place, tag or words: rank exactly within the (smaller) set the filters allow.
        statement = (
            filters.apply(select(Item.id, distance))
            .join(ItemEmbedding, ItemEmbedding.item_id == Item.id)
            .where(ItemEmbedding.model == model)
            .order_by(distance)
            .limit(CANDIDATES)
        )
    else:
        # The HNSW index serves "nearest first" only when asked of the vectors alone.
        nearest = (
            select(ItemEmbedding.item_id, distance.label("distance"))
            .where(ItemEmbedding.model == model)
            .order_by(distance)
            .limit(EF_SEARCH)
            .subquery()
        )
        statement = (
            filters.apply(select(Item.id, nearest.c.distance))
            .join(nearest, nearest.c.item_id == Item.id)
            .order_by(nearest.c.distance)
            .limit(CANDIDATES)
        )
    rows = session.execute(statement).all()
    return [item_id for item_id, d in rows if 1.0 - float(d) >= MIN_SIMILARITY]


def any_word_query(query: str) -> Any:
    """The query's words joined by OR: a place named by any one of them counts."""
    plain = cast(func.plainto_tsquery(ENGLISH, query), Text)
    return cast(func.replace(plain, "&", "|"), TSQUERY)


def _place_ranking(session: Session, query: str, filters: ItemFilter, vector: Any) -> list[int]:
    """Items under locations the query names ("what's in the attic"), closest meaning first."""
    named = (
        select(Location.id)
        .where(func.to_tsvector(ENGLISH, Location.name).op("@@")(any_word_query(query)))
        .cte("named", recursive=True)
    )
    places = named.union_all(select(Location.id).where(Location.parent_id == named.c.id))
    distance = ItemEmbedding.embedding.cosine_distance(vector)
    statement = (
        filters.apply(select(Item.id))
        .outerjoin(ItemEmbedding, ItemEmbedding.item_id == Item.id)
        .where(Item.location_id.in_(select(places.c.id)))
        .order_by(distance.nulls_last(), Item.id)
        .limit(CANDIDATES)
    )
    return _ids(session, statement)


def _hits(
    session: Session, query: str, fused: list[tuple[int, float]], lists: list[list[int]]
) -> list[SearchHit]:
    if not fused:
        return []
    lexemes = func.tsvector_to_array(Item.search_vector, type_=ARRAY(Text))
    rows = session.execute(select(Item, lexemes).where(Item.id.in_([i for i, _ in fused])))
    found = {item.id: (item, words) for item, words in rows}
    tree = LocationTree.load(session)
    stems = word_stems(session, query)
    places = set(lists[2]) if len(lists) > 2 else set()
    hits = []
    for item_id, score in fused:
        if item_id not in found:
            continue
        item, words = found[item_id]
        path = tree.path(item.location_id)
        hits.append(
            SearchHit(
                item=item,
                location_path=path,
                score=round(score, 4),
                reason=_reason(stems, words, item_id in places, path),
            )
        )
    return hits


def _reason(
    stems: dict[str, set[str]], lexemes: Sequence[str] | None, place: bool, path: str
) -> str:
    matched = matched_words(stems, lexemes)
    if matched != "matched":
        return matched
    if place:
        return f"in {path}"
    return SIMILAR_MEANING


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


def matched_words(stems: dict[str, set[str]], lexemes: Sequence[str] | None) -> str:
    """The reason shown with a keyword hit: the user's own words that matched."""
    found = set(lexemes or ())
    words = [word for word, word_stems in stems.items() if word_stems & found]
    return f"matched: {', '.join(words)}" if words else "matched"


__all__ = ["SearchHit", "SearchResults", "fuse", "search"]
