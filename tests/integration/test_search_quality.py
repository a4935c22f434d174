"""Search quality on the household set: plain-language questions find their item."""

from __future__ import annotations

from sqlalchemy.orm import Session

from inventory.embeddings import Embedder
from tests.search_eval import load_eval, recall, stock


def test_the_eval_set_is_large_and_paraphrased() -> None:
    data = load_eval()
    assert len(data["items"]) >= 60
    assert len(data["queries"]) >= 60
    names = {entry["name"] for entry in data["items"]}
    assert all(case["expected"] in names for case in data["queries"])


def test_hybrid_recall_at_5_is_at_least_90_percent(session: Session, embedder: Embedder) -> None:
    data = load_eval()
    stock(session, data, embedder)
    result = recall(session, data, embedder, "hybrid")
    assert result.at_5 >= 0.9, result.misses
