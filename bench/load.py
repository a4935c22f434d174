"""Load: mixed API traffic through nginx (HTTPS) + Gunicorn + PostgreSQL at rising concurrency.

Each simulated user sends its next request as soon as the last one is answered (no think time),
so N users keep N requests in flight. The mix: 70 % reads (one item, a page of items), 20 %
search (keyword + meaning), 10 % writes (create an item, change its quantity), driven by
locust in library mode. Per level: requests/s, p50/p95/p99 in ms, errors (any non-2xx or no
answer) and the 1-minute load average; then the first level whose p95 passes 200 ms.
Prints figures; asserts nothing. The load generator shares the machine's cores with the stack.

    # a throwaway compose stack (built and started as tests/compose does), then `down -v`:
    .venv/bin/python bench/load.py
    # a smoke run:
    .venv/bin/python bench/load.py --levels 1,2 --duration 5 --items 50
    # a stack that is already up (an editor's API token; nginx's certificate to verify TLS):
    docker compose exec -T nginx cat /etc/nginx/ssl/cert.pem > /tmp/cert.pem
    .venv/bin/python bench/load.py --url https://127.0.0.1:443 --token TOKEN --cafile /tmp/cert.pem

Starting its own stack needs Docker and docker/model/ holding the ONNX model (the compose tests
put it there), as tests/compose/conftest.py describes.
"""

from __future__ import annotations

# isort: off
# locust patches the standard library (gevent) when imported: before anything else uses it.
from locust import FastHttpUser, constant, task
from locust.env import Environment

import gevent
import gevent.pool

# isort: on
import argparse
import itertools
import json
import os
import resource
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SLOW_P95_MS = 200
THINGS = ["drill", "hammer", "tent", "lamp", "cable", "charger", "kettle", "jacket", "ladder"]
THINGS += ["sleeping bag", "saw", "tape", "battery", "glue", "router", "speaker", "blanket"]
ADJECTIVES = ["red", "old", "spare", "cordless", "large", "small", "blue", "folding", "USB"]
PLACES = ["Home/Garage/Shelf 1", "Home/Garage/Shelf 2", "Home/Attic/Box A", "Home/Kitchen"]
PLACES += ["Home/Office/Desk", "Storage unit/Rack 3", "Home/Cellar", "Home/Loft/Blue box"]
QUERIES = ["where is the drill", "something to keep warm", "charging cable", "camping gear"]
QUERIES += ["tools for the garden", "blue box in the loft", "spare battery", "glue"]


class Settings:
    """What the users need; set once before they start."""

    token = ""
    cafile: str | None = None
    item_ids: list[int] = []  # noqa: RUF012 - shared by design: seeded items to read


def _tls_context() -> ssl.SSLContext:
    if Settings.cafile is None:
        return ssl._create_unverified_context()
    context = ssl.create_default_context(cafile=Settings.cafile)
    context.check_hostname = False  # the certificate names the host; we dial 127.0.0.1
    return context


class Visitor(FastHttpUser):
    """One API client: 40 item reads, 30 list pages, 20 searches, 6 creates, 4 changes."""

    wait_time = constant(0)
    insecure = False
    ssl_context_factory = staticmethod(_tls_context)
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {Settings.token}"}
        self.mine: list[int] = []

    @task(40)
    def read_item(self) -> None:
        item_id = secrets.choice(Settings.item_ids)
        self.client.get(f"/api/v1/items/{item_id}", headers=self.headers, name="read item")

    @task(30)
    def list_items(self) -> None:
        page = secrets.randbelow(5) + 1
        path = f"/api/v1/items?per_page=20&page={page}"
        self.client.get(path, headers=self.headers, name="list items")

    @task(20)
    def search(self) -> None:
        query = secrets.choice(QUERIES).replace(" ", "+")
        path = f"/api/v1/search?q={query}&limit=10"
        self.client.get(path, headers=self.headers, name="search")

    @task(6)
    def create_item(self) -> None:
        reply = self.client.post(
            "/api/v1/items", json=_new_item(), headers=self.headers, name="create item"
        )
        if reply.status_code == 201:
            self.mine.append(reply.json()["id"])

    @task(4)
    def change_quantity(self) -> None:
        if not self.mine:  # each user changes only its own items: no conflicts by design
            self.create_item()
            return
        path = f"/api/v1/items/{secrets.choice(self.mine)}/quantity"
        self.client.post(path, json={"delta": 1}, headers=self.headers, name="change quantity")


def _new_item() -> dict[str, Any]:
    thing = f"{secrets.choice(ADJECTIVES)} {secrets.choice(THINGS)}"
    return {
        "name": f"{thing} {secrets.token_hex(3)}",
        "description": f"A {thing} kept for when it is needed",
        "location": secrets.choice(PLACES),
    }


# ---- talking to the stack outside the measured part --------------------------------------------


def _call(url: str, method: str, path: str, payload: Any = None) -> Any:
    request = urllib.request.Request(
        url + path,
        method=method,
        data=json.dumps(payload).encode() if payload is not None else None,
        headers={"Authorization": f"Bearer {Settings.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30, context=_tls_context()) as reply:
        return json.loads(reply.read())


def seed(url: str, count: int) -> list[int]:
    """`count` items to read and search (the locations first, one at a time)."""
    ids = [
        _call(url, "POST", "/api/v1/items", {"name": "seed", "location": p})["id"] for p in PLACES
    ]
    pool = gevent.pool.Pool(4)
    made = pool.imap_unordered(
        lambda _: _call(url, "POST", "/api/v1/items", _new_item()), range(count)
    )
    ids += [item["id"] for item in made]
    return ids


# ---- a throwaway compose stack ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise SystemExit("neither `docker compose` nor `docker-compose` is installed")


@contextmanager
def compose_stack() -> Iterator[tuple[str, str, str]]:
    """(url, token, cafile) of a fresh stack from the project's compose files; always `down -v`."""
    if not (ROOT / "docker" / "model" / "model.onnx").is_file():
        raise SystemExit("docker/model/ has no model.onnx: run the compose tests once")
    sys.path.insert(0, str(ROOT))
    from tests.compose import standins

    standins.build_all()  # stand-in base images where no registry is reachable (cached)
    https_port = _free_port()
    settings = {
        "COMPOSE_PROJECT_NAME": f"invload{os.getpid()}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "BIND_ADDRESS": "127.0.0.1",
        "HTTP_PORT": str(_free_port()),
        "HTTPS_PORT": str(https_port),
        "MODEL_SOURCE": "local",
        "RELEASE_CANDIDATE": "load-bench",
        "INVENTORY_IMAGE": "inventory-app:load-bench",
        "NGINX_IMAGE": "inventory-nginx:load-bench",
        "TUNNEL_TOKEN": "",
    }
    work = Path(os.environ.get("TMPDIR", "/tmp")) / settings["COMPOSE_PROJECT_NAME"]
    work.mkdir(exist_ok=True)
    env_file = work / "load.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    files = ["-f", "docker-compose.yml", "-f", "docker-compose.prod.yml"]
    base = [*_compose_command(), "--env-file", str(env_file), *files]
    env = {**os.environ, **settings}

    def compose(*args: str, stdin: str | None = None) -> str:
        return subprocess.run(
            [*base, *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    try:
        print("building and starting the stack …", flush=True)
        compose("build")
        compose("up", "-d")
        url = f"https://127.0.0.1:{https_port}"
        cafile = work / "cert.pem"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                cafile.write_text(compose("exec", "-T", "nginx", "cat", "/etc/nginx/ssl/cert.pem"))
                Settings.cafile = str(cafile)
                with urllib.request.urlopen(url + "/health", timeout=5, context=_tls_context()):
                    break
            except (OSError, subprocess.CalledProcessError):
                time.sleep(1)
        else:
            raise SystemExit("the stack did not become healthy within 180 s")
        user = ["--username", "loadbench"]
        create = ["inventory", "user", "create", *user, "--role", "editor", "--password-stdin"]
        compose("exec", "-T", "inventory-app", *create, stdin="a long load bench password\n")
        token = compose("exec", "-T", "inventory-app", "inventory", "token", "create", *user)
        yield url, token.strip(), str(cafile)
    finally:
        if os.environ.get("INVENTORY_COMPOSE_KEEP") != "1":
            subprocess.run([*base, "down", "-v"], cwd=ROOT, env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


# ---- measuring ---------------------------------------------------------------------------------


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(url: str, levels: list[int], duration: float, warmup: float) -> list[dict[str, Any]]:
    env = Environment(user_classes=[Visitor], host=url)
    runner = env.create_local_runner()
    rows = []
    try:
        for users in levels:
            runner.start(users, spawn_rate=100)
            while runner.user_count < users:
                gevent.sleep(0.1)
            gevent.sleep(warmup)  # new connections and caches settle before counting
            env.stats.reset_all()
            started, cpu = time.monotonic(), _cpu_seconds()
            gevent.sleep(duration)
            elapsed = time.monotonic() - started
            total = env.stats.total
            rows.append(
                {
                    "users": users,
                    "requests": total.num_requests,
                    "rps": total.num_requests / elapsed,
                    "p50": total.get_response_time_percentile(0.50),
                    "p95": total.get_response_time_percentile(0.95),
                    "p99": total.get_response_time_percentile(0.99),
                    "errors": total.num_failures,
                    "load1": os.getloadavg()[0],
                    "client_cpu": (_cpu_seconds() - cpu) / elapsed,
                    "kinds": {
                        name: entry.get_response_time_percentile(0.95)
                        for (name, _method), entry in sorted(env.stats.entries.items())
                    },
                    "error_kinds": {
                        f"{e.method} {e.name}: {e.error}": e.occurrences
                        for e in env.stats.errors.values()
                    },
                }
            )
            _print_row(rows[-1], rows[0])
    finally:
        runner.quit()
    return rows


def _print_header() -> None:
    print(
        f"{'users':>5} {'req/s':>7} {'x1':>5} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'requests':>8} {'load1':>5} {'client CPU':>10}   p95 by kind (ms)"
    )


def _print_row(row: dict[str, Any], first: dict[str, Any]) -> None:
    kinds = ", ".join(f"{name} {p95:.0f}" for name, p95 in row["kinds"].items())
    print(
        f"{row['users']:>5} {row['rps']:>7.1f} {row['rps'] / first['rps']:>5.2f} "
        f"{row['p50']:>7.0f} {row['p95']:>7.0f} {row['p99']:>7.0f} {row['errors']:>6} "
        f"{row['requests']:>8} {row['load1']:>5.1f} {row['client_cpu']:>9.0%}   {kinds}",
        flush=True,
    )
    for what, count in row["error_kinds"].items():
        print(f"        {count} × {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="e.g. https://127.0.0.1:443; default: start a stack")
    parser.add_argument("--token", default=os.environ.get("INVENTORY_TOKEN", ""))
    parser.add_argument("--cafile", help="the certificate to verify TLS against")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS")
    parser.add_argument("--levels", default="1,2,4,8,16,32", help="users at each level")
    parser.add_argument("--duration", type=float, default=60, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before each level")
    parser.add_argument("--items", type=int, default=500, help="items created before measuring")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]

    if args.url:
        if not args.token or not (args.cafile or args.insecure):
            parser.error("--url needs --token and --cafile (or --insecure)")
        Settings.token, Settings.cafile = args.token, args.cafile
        stack: Any = nullcontext((args.url, args.token, args.cafile))
    else:
        stack = compose_stack()
    with stack as (url, token, cafile):
        Settings.token, Settings.cafile = token, cafile
        started = time.monotonic()
        Settings.item_ids = seed(url, args.items)
        print(
            f"seeded {len(Settings.item_ids)} items in {time.monotonic() - started:.1f} s; "
            f"{args.duration:.0f} s per level at {url}; load average before: "
            f"{os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs shared with the stack"
        )
        _print_header()
        rows = measure(url, levels, args.duration, args.warmup)
    slow = next((row for row in rows if row["p95"] > SLOW_P95_MS), None)
    if slow is None:
        print(f"p95 stayed at or under {SLOW_P95_MS} ms up to {rows[-1]['users']} users")
    else:
        print(f"p95 passes {SLOW_P95_MS} ms at {slow['users']} users ({slow['p95']:.0f} ms)")
    below = list(itertools.takewhile(lambda row: row is not slow, rows))
    if slow is not None:
        print(f"errors below that level: {sum(row['errors'] for row in below)}")
    print(f"errors at all levels: {sum(row['errors'] for row in rows)}")


if __name__ == "__main__":
    main()
