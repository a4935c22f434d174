"""The search quality set (tests/data/search_eval.json): load it into a database and measure
recall@k for each search mode. Shared by the quality test and bench/search_quality.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import Session

from inventory import search
from inventory.catalog import items
from inventory.embeddings import Embedder

EVAL_FILE = Path(__file__).parent / "data" / "search_eval.json"
Mode = Literal["keyword", "vector", "hybrid"]


@dataclass(frozen=True)
class Recall:
    at_1: float
    at_5: float
    misses: list[tuple[str, str, list[str]]]


def load_eval() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EVAL_FILE.read_text(encoding="utf-8"))
    return data


def stock(session: Session, data: dict[str, Any], embedder: Embedder | None) -> None:
    for entry in data["items"]:
        items.create_item(
            session=session,
            data={k: entry[k] for k in ("name", "location", "tags", "description")},
            actor=None,
            embedder=embedder,
        )


def recall(session: Session, data: dict[str, Any], embedder: Embedder, mode: Mode) -> Recall:
    """Share of queries whose expected item is first / in the first five."""
    first = top5 = 0
    misses = []
    for case in data["queries"]:
        found = search.search(
            session=session, query=case["query"], limit=5, embedder=embedder, mode=mode
        )
        names = [hit.item.name for hit in found.results]
        first += names[:1] == [case["expected"]]
        top5 += case["expected"] in names
        if case["expected"] not in names:
            misses.append((case["query"], case["expected"], names))
    total = len(data["queries"])
    return Recall(first / total, top5 / total, misses)
