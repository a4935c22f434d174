"""What keeps search and indexing fast on large inventories, exercised on a small one: the
bounded rankings and the HNSW index rebuilt after a bulk reindex. (Timings live in bench/.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from inventory import search
from inventory.catalog import items
from inventory.embeddings import Embedder
from inventory.search import hnsw, ranking, reindex

HOUSE = [
    ("Down sleeping bag", "Home/Attic/Camping bin", ["camping"]),
    ("Two-person tent", "Home/Attic/Camping bin", ["camping"]),
    ("Christmas tree lights", "Home/Attic", ["holiday"]),
    ("Camping stove", "Home/Garage", ["camping"]),
    ("Camping lantern", "Home/Garage", ["camping"]),
    ("Espresso machine", "Home/Kitchen/Counter", []),
    ("Passport", "Home/Office/Desk drawer", ["documents"]),
]


def _stock(session: Session, embedder: Embedder | None) -> None:
    for name, location, tags in HOUSE:
        items.create_item(
            session=session,
            data={"name": name, "location": location, "tags": tags},
            actor=None,
            embedder=embedder,
        )


@pytest.fixture
def rebuilt_statements() -> Iterator[None]:
    """Search statements are built once per filter; a test that changes a bound rebuilds them,
    before and after, so no other test sees its values."""
    ranking.clear_statement_cache()
    yield
    ranking.clear_statement_cache()


def _index_valid(session: Session) -> bool | None:
    valid: bool | None = session.scalar(
        text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = 'ix_item_embeddings_hnsw'"
        )
    )
    session.rollback()
    return valid


def test_a_crowded_place_is_ranked_through_the_vector_index(
    session: Session, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, rebuilt_statements: None
) -> None:
    _stock(session, embedder)
    monkeypatch.setattr(ranking, "PLACE_EXACT_MAX", 1)  # the attic holds 3: crowded
    found = search.search(session=session, query="what's up in the attic", embedder=embedder)
    top = found.results[:3]
    assert top
    assert all(hit.location_path.startswith("Home › Attic") for hit in top)


def test_a_word_shared_by_many_items_scores_only_the_first_matches(
    session: Session, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, rebuilt_statements: None
) -> None:
    _stock(session, embedder)
    monkeypatch.setattr(ranking, "KEYWORD_SCAN", 2)
    found = search.search(session=session, query="camping", embedder=embedder, mode="keyword")
    assert len(found.results) == 2  # four items say "camping"
    assert all(hit.reason == "matched: camping" for hit in found.results)


def test_a_bulk_reindex_rebuilds_the_vector_index(
    session: Session, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stock(session, embedder)
    monkeypatch.setattr(reindex, "BULK_REBUILD_MIN", 1)
    due = reindex.plan(session=session, embedder=embedder, everything=True)
    dropped = []
    original_drop = hnsw.drop_vector_index

    def drop_and_note(session: Session) -> None:
        original_drop(session)
        dropped.append(_index_valid(session))

    monkeypatch.setattr(reindex, "drop_vector_index", drop_and_note)
    assert reindex.run(session=session, embedder=embedder, item_ids=due) == len(HOUSE)
    assert dropped == [None]  # gone while the vectors were written
    assert _index_valid(session) is True
    found = search.search(session=session, query="warm bag for sleeping", embedder=embedder)
    assert found.results[0].item.name == "Down sleeping bag"


def test_a_reindex_of_nothing_still_builds_a_missing_index(
    session: Session, embedder: Embedder
) -> None:
    _stock(session, embedder)
    hnsw.drop_vector_index(session)  # as an interrupted bulk reindex leaves it
    assert reindex.run(session=session, embedder=embedder, item_ids=[]) == 0
    assert _index_valid(session) is True
