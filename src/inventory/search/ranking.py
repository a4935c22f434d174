"""Search: "where is my …?" answered with the item and its place.

Hybrid ranking: full-text (name above tags above location above description), vector
similarity of meaning, and items under locations whose names the query mentions, fused by
reciprocal rank fusion. Filters are applied in SQL inside every ranking, before limiting.
Without an embedder it answers by keyword alone and says so (`mode="keyword"`).

A search costs two statements: a prelude (the query's word stems, the recorded model, the
HNSW candidate count) and one that ranks, fuses and returns the page of items. Every ranking
looks at a bounded number of rows, so a word or place shared by thousands of items does not
make the search scan them all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    ARRAY,
    CTE,
    ColumnElement,
    Float,
    Integer,
    Select,
    Subquery,
    Text,
    any_,
    bindparam,
    cast,
    false,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session, defer, joinedload, lazyload

from inventory.catalog.item_queries import ENGLISH, ItemFilter
from inventory.catalog.tree import LocationTree, subtree_ids
from inventory.db.models import EmbeddingIndex, Item, ItemEmbedding, Location
from inventory.embeddings import Embedder
from inventory.search import vectors

# ts_rank_cd normalisation 32 maps a rank r to r / (r + 1): scores fall in 0..1.
RANK_NORMALISATION = 32
# Reciprocal rank fusion: each list adds 1 / (RRF_K + rank); 60 is the usual constant.
RRF_K = 60
# Vector, keyword and place lists: a named place counts, but less than meaning or words,
# since place names double as object words ("box", "cabinet").
VECTOR_WEIGHT, KEYWORD_WEIGHT, PLACE_WEIGHT = 1.0, 1.0, 0.5
# How deep each ranking looks before fusion.
CANDIDATES = 50
# Below this cosine similarity a "similar meaning" is noise (all-MiniLM-L6-v2 scale).
MIN_SIMILARITY = 0.1
# HNSW candidate list; larger than the default 40 so SQL filters still leave enough rows.
EF_SEARCH = 100
# Full-text matches scored per search: a word found in more items than this no longer tells
# them apart, and scoring every match would read thousands of rows (≈10 µs each). The first
# ones in table order are scored; the ranking keeps the best CANDIDATES of them.
KEYWORD_SCAN = 300
# Items under the named places ranked exactly by meaning; a place holding more is ranked
# through the HNSW index (its nearest items that are there), which reads a bounded number.
PLACE_EXACT_MAX = 500
SIMILAR_MEANING = "similar meaning"
# A keyword hit whose matching words cannot be told (a phrase, a prefix).
MATCHED = "matched"
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
    tree: LocationTree | None = None,
) -> SearchResults:
    """Best matches first. `mode` other than hybrid serves comparisons (bench, tests).
    `tree` is the request's location tree when the caller has one (saves loading it again)."""
    filters = filters or ItemFilter()
    # As in the indexed documents: "drill/driver" is two words, not a file path.
    query = query.replace("/", " ")
    values: dict[str, Any] = {"query": query, "limit": limit}
    if embedder is None or mode == "keyword":
        stems, _ = _prelude(session, query)
        rows = _run(session, _keyword_page(filters), values)
        notices = [] if embedder is not None else [UNAVAILABLE]
        return SearchResults(_hits(session, tree, stems, rows, MATCHED), "keyword", notices)
    values |= {"vector": embedder.embed([query])[0], "model": embedder.model}
    stems, recorded = _prelude(session, query)
    rows = _run(session, _fused_page(filters, mode == "hybrid"), values)
    notice = vectors.mismatch_notice(recorded, embedder)
    return SearchResults(
        results=_hits(session, tree, stems, rows, SIMILAR_MEANING),
        mode="hybrid",
        notices=[notice] if notice else [],
    )


# ---- the prelude ----------------------------------------------------------------------------


def _prelude(session: Session, query: str) -> tuple[dict[str, set[str]], tuple[str, int] | None]:
    """The query's word stems and the recorded (model, dimension), in one round trip, setting
    this transaction up for the ranking statement that follows."""
    words = list(dict.fromkeys(re.findall(r"\w+", query.lower())))[:50]
    row = session.execute(_prelude_statement(), {"words": words}).one()
    stems = {word: set(found) for word, found in (row.stems or {}).items() if found}
    model = (row.model, row.dimension) if row.model is not None else None
    return stems, model


# Set for the transaction: every scan in the ranking statement reads a bounded number of rows.
_SEARCH_SETTINGS = {
    # The plan's estimated cost counts branches that never run; compiling it would take
    # longer than the search itself.
    "jit": "off",
    # Starting parallel workers costs more than any of these small scans.
    "max_parallel_workers_per_gather": "0",
    "hnsw.ef_search": str(EF_SEARCH),
}


@lru_cache(maxsize=1)
def _prelude_statement() -> Select[Any]:
    word = func.unnest(bindparam("words", type_=ARRAY(Text))).table_valued("word").render_derived()
    stems = func.tsvector_to_array(func.to_tsvector(ENGLISH, word.c.word))
    recorded = select(EmbeddingIndex.model, EmbeddingIndex.dimension).where(EmbeddingIndex.id == 1)
    return select(
        # {word: [stems PostgreSQL indexes it under]} for each word of the query.
        select(func.json_object_agg(word.c.word, stems)).scalar_subquery().label("stems"),
        *(func.set_config(name, value, True) for name, value in _SEARCH_SETTINGS.items()),
        recorded.with_only_columns(EmbeddingIndex.model).scalar_subquery().label("model"),
        recorded.with_only_columns(EmbeddingIndex.dimension).scalar_subquery().label("dimension"),
    )


# ---- the rankings: each a subquery of (id, position), best first -------------------------------

# What changes from one search to the next: statements are built once per filter and mode
# (building and compiling them costs more than PostgreSQL takes to run them).
QUERY = bindparam("query", type_=Text)
VECTOR = bindparam("vector", type_=Vector())
MODEL = bindparam("model", type_=Text)
LIMIT = bindparam("limit", type_=Integer)


def _positions(top: Subquery, *order: ColumnElement[Any]) -> Select[Any]:
    """Number a limited candidate list 1, 2, … in its own order."""
    return select(top.c.id, func.row_number().over(order_by=order).label("position"))


@dataclass(frozen=True)
class _Scope:
    """What every ranking of one search shares: the filters, with one location subtree CTE
    for all of them (a CTE named twice is an error, and computed once is cheaper anyway)."""

    filters: ItemFilter
    subtree: CTE | None

    @classmethod
    def of(cls, filters: ItemFilter) -> _Scope:
        subtree = subtree_ids(filters.location_id) if filters.location_id is not None else None
        return cls(filters, subtree)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        """ItemFilter.apply, with the location subtree taken from the shared CTE."""
        statement = replace(self.filters, location_id=None).apply(statement)
        if self.subtree is not None:
            statement = statement.where(Item.location_id.in_(select(self.subtree.c.id)))
        return statement


def _keyword_ranking(scope: _Scope) -> Select[Any]:
    matches = _keyword_matches(scope)
    top = (
        select(matches.c.id, matches.c.relevance)
        .order_by(matches.c.relevance.desc(), matches.c.id)
        .limit(CANDIDATES)
        .subquery("keyword_top")
    )
    return _positions(top, top.c.relevance.desc(), top.c.id)


def _keyword_matches(scope: _Scope) -> Subquery:
    """Items matching the words, at most KEYWORD_SCAN of them (the first in table order),
    with how well they match."""
    tsquery = func.websearch_to_tsquery(ENGLISH, QUERY)
    found = (
        scope.apply(select(Item.id, Item.search_vector))
        .where(Item.search_vector.op("@@")(tsquery))
        .limit(KEYWORD_SCAN)
        .subquery("keyword_found")
    )
    relevance = func.ts_rank_cd(found.c.search_vector, tsquery, RANK_NORMALISATION)
    return select(found.c.id, relevance.label("relevance")).subquery("keyword_matches")


def _nearest() -> CTE:
    """The EF_SEARCH nearest vectors of the model, straight from the HNSW index."""
    distance = ItemEmbedding.embedding.cosine_distance(VECTOR)
    return (
        select(ItemEmbedding.item_id.label("id"), distance.label("distance"))
        .where(ItemEmbedding.model == MODEL)
        .order_by(distance)
        .limit(EF_SEARCH)
        .cte("nearest")
    )


def _vector_ranking(scope: _Scope, nearest: CTE) -> Select[Any]:
    if scope.filters.narrows:
        # A place, tag or words: rank exactly within the (smaller) set the filters allow.
        distance = ItemEmbedding.embedding.cosine_distance(VECTOR)
        candidates = (
            scope.apply(select(Item.id, distance.label("distance")))
            .join(ItemEmbedding, ItemEmbedding.item_id == Item.id)
            .where(ItemEmbedding.model == MODEL)
            .order_by(distance, Item.id)
        )
    else:
        # The HNSW index serves "nearest first" only when asked of the vectors alone.
        candidates = (
            scope.apply(select(Item.id, nearest.c.distance))
            .join(nearest, nearest.c.id == Item.id)
            .order_by(nearest.c.distance, Item.id)
        )
    top = candidates.limit(CANDIDATES).subquery("vector_top")
    ranked = _positions(top, top.c.distance, top.c.id)
    return ranked.where(top.c.distance <= 1.0 - MIN_SIMILARITY)


def any_word_query(query: Any) -> Any:
    """The query's words joined by OR: a place named by any one of them counts."""
    plain = cast(func.plainto_tsquery(ENGLISH, query), Text)
    return cast(func.replace(plain, "&", "|"), TSQUERY)


def _place_ranking(scope: _Scope, nearest: CTE) -> Select[Any]:
    """Items under locations the query names ("what's in the attic"), closest meaning first:
    all of them when the places hold few, else those among the nearest vectors."""
    named = (
        select(Location.id)
        .where(func.to_tsvector(ENGLISH, Location.name).op("@@")(any_word_query(QUERY)))
        .cte("named", recursive=True)
    )
    places = named.union_all(select(Location.id).where(Location.parent_id == named.c.id))
    # As `= ANY(array)` the place ids become an index condition on items.location_id.
    place_ids = cast(select(func.array_agg(places.c.id)).scalar_subquery(), ARRAY(Integer))
    under = Item.location_id == any_(place_ids)
    held = select(Item.id).where(under).limit(PLACE_EXACT_MAX + 1).subquery("held")
    held_count = select(func.count().label("n")).select_from(held).cte("held_count")
    # A condition without columns: PostgreSQL runs only the branch for which it holds.
    crowded = select(held_count.c.n).scalar_subquery() > PLACE_EXACT_MAX
    distance = ItemEmbedding.embedding.cosine_distance(VECTOR)
    exact = (
        scope.apply(select(Item.id, distance.label("distance")))
        .outerjoin(ItemEmbedding, ItemEmbedding.item_id == Item.id)
        .where(under, ~crowded)
        .order_by(distance.nulls_last(), Item.id)
        .limit(CANDIDATES)
    )
    via_index = (
        scope.apply(select(Item.id, nearest.c.distance))
        .join(nearest, nearest.c.id == Item.id)
        .where(under, crowded)
        .order_by(nearest.c.distance, Item.id)
        .limit(CANDIDATES)
    )
    top = union_all(exact, via_index).subquery("place_top")
    return _positions(top, top.c.distance.asc().nulls_last(), top.c.id)


# ---- fusion and the page ------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _fused_page(filters: ItemFilter, hybrid: bool) -> Select[Any]:
    """Weighted reciprocal rank fusion of the rankings (vector; with `hybrid` also keyword and
    place), scaled so an item first in every non-empty list scores 1: the best LIMIT items."""
    scope = _Scope.of(filters)
    nearest = _nearest()
    lists = [(_vector_ranking(scope, nearest), VECTOR_WEIGHT, False)]
    if hybrid:
        lists += [
            (_keyword_ranking(scope), KEYWORD_WEIGHT, False),
            (_place_ranking(scope, nearest), PLACE_WEIGHT, True),
        ]
    ranked = union_all(
        *(
            select(
                part.c.id,
                part.c.position,
                literal(weight, Float).label("weight"),
                literal(place).label("place"),
            )
            for part, weight, place in (
                (ranking.subquery(), weight, place) for ranking, weight, place in lists
            )
        )
    ).subquery("ranked")
    total = func.sum(ranked.c.weight / cast(RRF_K + ranked.c.position, Float))
    # Each non-empty list has exactly one first place: their weights sum to the best score.
    best = func.sum(func.sum(ranked.c.weight).filter(ranked.c.position == 1)).over()
    fused = (
        select(
            ranked.c.id,
            (total * (RRF_K + 1) / best).label("score"),
            func.bool_or(ranked.c.place).label("place"),
        )
        .group_by(ranked.c.id)
        .order_by(total.desc(), ranked.c.id)
        .limit(LIMIT)
        .subquery("fused")
    )
    return (
        select(Item, fused.c.score, _lexemes(), fused.c.place)
        .join(fused, fused.c.id == Item.id)
        .order_by(fused.c.score.desc(), Item.id)
    )


@lru_cache(maxsize=64)
def _keyword_page(filters: ItemFilter) -> Select[Any]:
    matches = _keyword_matches(_Scope.of(filters))
    top = (
        select(matches.c.id, matches.c.relevance)
        .order_by(matches.c.relevance.desc(), matches.c.id)
        .limit(LIMIT)
        .subquery("keyword_top")
    )
    return (
        select(Item, top.c.relevance, _lexemes(), false())
        .join(top, top.c.id == Item.id)
        .order_by(top.c.relevance.desc(), Item.id)
    )


def clear_statement_cache() -> None:
    """Build the search statements anew: after a bound such as KEYWORD_SCAN changed (tests)."""
    _fused_page.cache_clear()
    _keyword_page.cache_clear()


def _lexemes() -> ColumnElement[list[str]]:
    return func.tsvector_to_array(Item.search_vector, type_=ARRAY(Text))


def _run(
    session: Session, page: Select[Any], values: dict[str, Any]
) -> list[tuple[Item, float, list[str] | None, bool]]:
    """The page's rows, each item with its tags and photos (joined: one round trip); not its
    location row (the tree names it) nor its search document (its lexemes come separately)."""
    eager = page.options(
        joinedload(Item.tags),
        joinedload(Item.photos),
        lazyload(Item.location),
        defer(Item.search_vector),
    )
    rows = session.execute(eager, values).unique(lambda row: row[0].id)
    return [(item, float(score), lexemes, bool(place)) for item, score, lexemes, place in rows]


def _hits(
    session: Session,
    tree: LocationTree | None,
    stems: dict[str, set[str]],
    rows: list[tuple[Item, float, list[str] | None, bool]],
    otherwise: str,
) -> list[SearchHit]:
    """Each ranked item with its place and why it was found (`otherwise` when no word of the
    query matched and no named place holds it)."""
    if tree is None:
        tree = LocationTree.load(session) if rows else LocationTree(())
    hits = []
    for item, score, lexemes, place in rows:
        path = tree.path(item.location_id)
        reason = matched_words(stems, lexemes)
        if reason == MATCHED:
            reason = f"in {path}" if place else otherwise
        hits.append(SearchHit(item=item, location_path=path, score=round(score, 4), reason=reason))
    return hits


def matched_words(stems: dict[str, set[str]], lexemes: Sequence[str] | None) -> str:
    """The reason shown with a keyword hit: the user's own words that matched."""
    found = set(lexemes or ())
    words = [word for word, word_stems in stems.items() if word_stems & found]
    return f"matched: {', '.join(words)}" if words else MATCHED


__all__ = ["SearchHit", "SearchResults", "search"]
