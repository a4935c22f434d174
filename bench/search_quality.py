"""Search quality on tests/data/search_eval.json: recall@1 and recall@5 for keyword-only,
vector-only and hybrid search, side by side, on a throwaway embedded PostgreSQL.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/search_quality.py [--misses]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.embedding_model import onnx_embedder
from tests.search_eval import load_eval, recall, stock

from inventory.db import migrate
from inventory.db.session import open_database
from inventory.settings import Settings


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="inventory-quality-") as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench-" + "x" * 40)
        embedder = onnx_embedder(settings, Path(".pytest_cache/d/inventory-models").resolve())
        database = open_database(settings)
        migrate.upgrade(database.engine)
        data = load_eval()
        with database.session() as session:
            stock(session, data, embedder)
            print(f"{len(data['items'])} items, {len(data['queries'])} queries, {embedder.model}")
            print(f"{'mode':<8} {'recall@1':>9} {'recall@5':>9}")
            for mode in ("keyword", "vector", "hybrid"):
                result = recall(session, data, embedder, mode)  # type: ignore[arg-type]
                print(f"{mode:<8} {result.at_1:>9.3f} {result.at_5:>9.3f}")
                if "--misses" in sys.argv:
                    for query, expected, got in result.misses:
                        print(f"   miss: {query!r} → {expected!r}; got {got}")
        database.close()


if __name__ == "__main__":
    main()
