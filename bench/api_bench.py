"""API benchmark: the app under Gunicorn (2 workers) on a fresh embedded database.

Creates N items through the API and reports items/s, then p50/p95 of listing (50 per page)
and of keyword search at that size. Prints figures; asserts nothing.

    .venv/bin/python bench/api_bench.py [--items 10000] [--clients 4] [--queries 300]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

THINGS = [
    "drill",
    "hammer",
    "tent",
    "lamp",
    "cable",
    "charger",
    "kettle",
    "jacket",
    "ladder",
    "sleeping bag",
    "saw",
    "tape",
    "battery",
    "glue",
    "router",
    "speaker",
    "blanket",
]
ADJECTIVES = ["red", "old", "spare", "cordless", "large", "small", "blue", "folding", "USB"]
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
_local = threading.local()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _connection(port: int) -> http.client.HTTPConnection:
    if getattr(_local, "connection", None) is None:
        _local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection: http.client.HTTPConnection = _local.connection
    return connection


def _request(port: int, token: str, method: str, path: str, body: Any = None) -> float:
    """One request on this thread's keep-alive connection; returns seconds taken."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    connection = _connection(port)
    connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path} -> {response.status}")
    return time.perf_counter() - started


def _percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100)
    return f"p50 {cuts[49] * 1000:6.1f} ms   p95 {cuts[94] * 1000:6.1f} ms"


def _start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "INVENTORY_DATA_DIR": str(data_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "inventory", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("the server did not start")


def _token(data_dir: Path) -> str:
    env = {**os.environ, "INVENTORY_DATA_DIR": str(data_dir)}
    run = [sys.executable, "-m", "inventory"]
    subprocess.run(
        [*run, "user", "create", "--username", "bench", "--role", "editor", "--password-stdin"],
        input=b"bench password 123\n",
        env=env,
        check=True,
        capture_output=True,
    )
    created = subprocess.run(
        [*run, "token", "create", "--username", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return created.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)

    with tempfile.TemporaryDirectory() as tmp:
        data_dir, port = Path(tmp), _free_port()
        server = _start_server(data_dir, port)
        try:
            token = _token(data_dir)
            bodies = [
                {
                    "name": f"{rng.choice(ADJECTIVES)} {rng.choice(THINGS)} {n}",
                    "location": rng.choice(PLACES),
                    "quantity": rng.randint(0, 20),
                    "tags": rng.sample(["tools", "camping", "kitchen", "electronics"], 2),
                }
                for n in range(args.items)
            ]
            started = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                create_times = list(
                    pool.map(
                        lambda body: _request(port, token, "POST", "/api/v1/items", body), bodies
                    )
                )
            elapsed = time.perf_counter() - started
            print(
                f"create {args.items} items, {args.clients} clients: "
                f"{args.items / elapsed:7.1f} items/s   ({_percentiles(create_times)})"
            )

            pages = max(1, args.items // 50)
            lists = [
                _request(
                    port, token, "GET", f"/api/v1/items?per_page=50&page={rng.randint(1, pages)}"
                )
                for _ in range(args.queries)
            ]
            print(f"list 50 per page at {args.items} items:   {_percentiles(lists)}")
            searches = [
                _request(
                    port,
                    token,
                    "GET",
                    "/api/v1/search?q="
                    + f"{rng.choice(ADJECTIVES)}+{rng.choice(THINGS)}".replace(" ", "+"),
                )
                for _ in range(args.queries)
            ]
            print(f"search at {args.items} items:              {_percentiles(searches)}")
            print(
                f"ratio search/list p50: "
                f"{statistics.median(searches) / statistics.median(lists):.2f}"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
