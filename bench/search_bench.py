"""Search speed: indexing rate, query embedding time, /api/v1/search latency under Gunicorn
(hybrid, and keyword-only in the same run as the baseline) and resident memory, at each size.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/search_bench.py [--sizes 10000,100000] [--requests 300]

Goals (2 cores): p50 ≤ 20 ms and p95 ≤ 50 ms at 100k items, indexing ≥ 300 items/s,
2 workers ≤ 400 MB resident in total. The database and servers are thrown away afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sqlalchemy import select, text
from tests.embedding_model import model_path, model_settings, onnx_embedder

from inventory import accounts, search
from inventory.catalog.tree import LocationTree
from inventory.db import migrate
from inventory.db.models import Item, Role
from inventory.db.session import Database, open_database
from inventory.embeddings import Embedder, get_embedder
from inventory.search import refresh, reindex, vectors
from inventory.settings import Settings

CACHE = Path(".pytest_cache/d/inventory-models").resolve()
ADJECTIVES = [
    "red",
    "blue",
    "old",
    "spare",
    "cordless",
    "small",
    "large",
    "wooden",
    "metal",
    "plastic",
    "vintage",
    "folding",
]
THINGS = [
    "drill",
    "hammer",
    "saw",
    "ladder",
    "tent",
    "lamp",
    "kettle",
    "blender",
    "jacket",
    "boots",
    "scarf",
    "cable",
    "charger",
    "stapler",
    "printer",
    "guitar",
    "puzzle",
    "blanket",
    "pillow",
    "mug",
    "plate",
    "knife",
    "bowl",
    "pan",
    "broom",
    "bucket",
    "hose",
    "rake",
    "shovel",
    "bike",
    "helmet",
    "camera",
    "lens",
    "tripod",
    "speaker",
    "headphones",
    "battery",
    "torch",
]
ROOMS = [
    "Garage",
    "Attic",
    "Kitchen",
    "Office",
    "Shed",
    "Basement",
    "Bedroom",
    "Bathroom",
    "Hall",
    "Loft",
]
QUERIES = [
    "something to drive screws",
    "warm clothes for winter",
    "where is the camera",
    "make a hot drink",
    "tools for the garden",
    "what's in the attic",
    "spare phone charger",
    "music equipment",
    "cleaning the floor",
    "kitchen knives",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="inventory-bench-") as tmp:
            run(size, Path(tmp), args.requests)


def run(size: int, data_dir: Path, requests: int) -> None:
    settings = model_settings(Settings(data_dir=data_dir, secret_key="b" * 48), CACHE)
    onnx_embedder(settings, CACHE)  # makes sure the export exists
    database = open_database(settings)
    migrate.upgrade(database.engine)
    print(f"== {size} items")
    _load(database, size)
    embedder = get_embedder(settings, threads=os.cpu_count() or 1)
    with database.session() as session:
        ids = reindex.plan(session=session, embedder=embedder)
        started = time.perf_counter()
        reindex.run(session=session, embedder=embedder, item_ids=ids, batch_size=256)
        elapsed = time.perf_counter() - started
        token = _token(session)
    print(f"indexing: {len(ids) / elapsed:.0f} items/s ({len(ids)} items in {elapsed:.1f} s)")
    ceiling = _model_alone(database, embedder)
    print(f"  the model alone on the same texts: {ceiling:.0f} texts/s (indexing's ceiling)")
    single = get_embedder(settings, threads=1)
    times = []
    for query in QUERIES * 10:
        t = time.perf_counter()
        single.embed([query])
        times.append((time.perf_counter() - t) * 1000)
    print(f"query embedding (1 thread): median {statistics.median(times):.1f} ms")
    database.close()
    env = _env(settings)
    hybrid = _serve_and_measure(env, token, requests)
    keyword = _serve_and_measure(env | {"EMBEDDING_MODEL": str(data_dir / "none")}, token, requests)
    for name, result in (("hybrid", hybrid), ("keyword-only", keyword)):
        p50, p95, p99, _ = result
        print(f"/api/v1/search {name:<13} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:.1f} ms")
    ratio50, ratio95 = hybrid[0] / keyword[0], hybrid[1] / keyword[1]
    print(f"ratio hybrid/keyword: p50 {ratio50:.2f}x  p95 {ratio95:.2f}x")
    for name, result in (("hybrid (model loaded)", hybrid), ("keyword-only", keyword)):
        workers, total_rss, total_pss = result[3]
        per = ", ".join(f"{rss:.0f} MB rss / {pss:.0f} MB pss" for rss, pss in workers)
        print(
            f"memory {name}: workers [{per}]; total rss {total_rss:.0f} MB, "
            f"pss {total_pss:.0f} MB (master included)"
        )


def _load(database: Database, size: int) -> None:
    rng = random.Random(7)
    with database.engine.begin() as conn:
        for room in ROOMS:
            conn.execute(text("INSERT INTO locations (name) VALUES (:n)"), {"n": room})
        conn.execute(
            text(
                "INSERT INTO locations (name, parent_id) SELECT 'Shelf ' || g, 1 + g % 10 "
                "FROM generate_series(1, 40) g"
            )
        )
        rows = [
            {
                "a": f"{i // 1000:03d}-{i % 1000:03d}",
                "n": f"{rng.choice(ADJECTIVES)} {rng.choice(THINGS)} {i}",
                "d": f"{rng.choice(ADJECTIVES)} {rng.choice(THINGS)} with a {rng.choice(THINGS)}",
                "l": rng.randint(1, 50),
            }
            for i in range(1, size + 1)
        ]
        conn.execute(
            text(
                "INSERT INTO items (asset_id, name, description, location_id) "
                "VALUES (:a, :n, :d, :l)"
            ),
            rows,
        )
    with database.session() as session:
        all_ids = list(session.scalars(text("SELECT id FROM items")))
        for start in range(0, len(all_ids), 5000):
            search.refresh_items(session, item_ids=all_ids[start : start + 5000])
            session.info.pop(refresh.PENDING, None)
        session.commit()


def _model_alone(database: Database, embedder: Embedder, count: int = 2048) -> float:
    """Texts per second the embedder makes of items' texts, with no database work around it."""
    with database.session() as session:
        tree = LocationTree.load(session)
        found = session.scalars(select(Item).order_by(Item.id).limit(count))
        texts = [vectors.embedding_text(item, tree) for item in found]
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


def _token(session: object) -> str:
    user = accounts.create_user(
        session=session, username="bench", password="bench password long", role=Role.viewer
    )  # type: ignore[arg-type]
    return accounts.create_token(session=session, user=user).secret  # type: ignore[arg-type]


def _env(settings: Settings) -> dict[str, str]:
    return os.environ | {
        "INVENTORY_DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": settings.secret_key,
        "TRANSFORMERS_CACHE": str(CACHE),
        "EMBEDDING_MODEL": model_path(),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_and_measure(env: dict[str, str], token: str, requests: int):  # type: ignore[no-untyped-def]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "inventory", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(port)
        latencies = _measure(port, token, requests)
        memory = _memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    q = statistics.quantiles(latencies, n=100)
    return q[49], q[94], q[98], memory


def _wait(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("server did not become healthy")


def _measure(port: int, token: str, requests: int) -> list[float]:
    from urllib.parse import quote

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    latencies = []
    for i in range(requests + 20):
        query = QUERIES[i % len(QUERIES)]
        t = time.perf_counter()
        conn.request("GET", f"/api/v1/search?q={quote(query)}&limit=10", headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        if i >= 20:  # the first requests warm up connections and caches
            latencies.append((time.perf_counter() - t) * 1000)
    return latencies


def _memory(master: int) -> tuple[list[tuple[float, float]], float, float]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    workers = [(_rss(int(pid)), _pss(int(pid))) for pid in children]
    total_rss = _rss(master) + sum(r for r, _ in workers)
    total_pss = _pss(master) + sum(p for _, p in workers)
    return workers, total_rss, total_pss


def _rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
