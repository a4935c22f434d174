"""Page benchmark: server time of the home page, the item list (50 items) and item detail,
with N items in the database (default 10,000). Prints figures; asserts nothing.

Items are seeded with one SQL statement (fast) and indexed for keyword search; embeddings
are made for the items whose detail pages are timed (their "similar items" need them).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/page_bench.py [--items 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.embedding_model import onnx_embedder

from inventory import accounts, search
from inventory.app import create_app
from inventory.catalog import locations
from inventory.db import migrate
from inventory.db.models import Item, Role
from inventory.db.session import open_database
from inventory.search import reindex
from inventory.settings import Settings

SEED = """
INSERT INTO items (asset_id, name, description, quantity, location_id, warranty_expires)
SELECT to_char(n / 1000, 'FM000') || '-' || to_char(n % 1000, 'FM000'),
       (ARRAY['red','old','spare','cordless','large','blue'])[1 + n % 6] || ' ' ||
       (ARRAY['drill','tent','lamp','cable','kettle','ladder','saw','router'])[1 + n % 8] ||
       ' ' || n,
       'seeded for the page benchmark', 1 + n % 9,
       (SELECT id FROM locations ORDER BY id OFFSET n % :places LIMIT 1),
       CASE WHEN n % 97 = 0 THEN current_date + (n % 30) END
FROM generate_series(1, :count) AS n
"""
PLACES = [
    "Home/Garage/Shelf 1",
    "Home/Garage/Shelf 2",
    "Home/Attic/Box A",
    "Home/Kitchen",
    "Home/Office/Desk",
    "Storage unit/Rack 3",
    "Home/Cellar",
    "Home/Loft/Blue box",
]


def _percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100)
    return f"p50 {cuts[49] * 1000:6.1f} ms   p95 {cuts[94] * 1000:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(3)

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench-" + "x" * 40)
        database = open_database(settings)
        migrate.upgrade(database.engine)
        embedder = onnx_embedder(settings, Path(tmp) / "models")
        with database.session() as session:
            for path in PLACES:
                locations.ensure_path(session=session, path=path)
            session.execute(text(SEED), {"count": args.items, "places": len(PLACES) + 5})
            ids = list(session.scalars(select(Item.id)))
            search.refresh_items(session, item_ids=ids)
            session.commit()
            viewed = rng.sample(ids, 50)
            reindex.run(session=session, embedder=embedder, item_ids=viewed)
            accounts.create_user(
                session=session, username="bench", password="bench " * 3, role=Role.editor
            )

        app = create_app(settings, database, embedder)
        client = app.test_client()
        login_page = client.get("/login").get_data(as_text=True)
        token = login_page.split('name="csrf_token" value="')[1].split('"')[0]
        client.post(
            "/login", data={"username": "bench", "password": "bench " * 3, "csrf_token": token}
        )

        def timed(path: str) -> float:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{path} -> {response.status_code}")
            return elapsed

        pages = max(1, args.items // 50)
        print(f"{args.items} items; server time in-process (no network), {args.requests} each")
        print(f"home                 {_percentiles([timed('/') for _ in range(args.requests)])}")
        print(
            "item list (50)       "
            + _percentiles(
                [timed(f"/items?page={rng.randint(1, pages)}") for _ in range(args.requests)]
            )
        )
        print(
            "item detail          "
            + _percentiles([timed(f"/items/{rng.choice(viewed)}") for _ in range(args.requests)])
        )
        database.close()


if __name__ == "__main__":
    main()
