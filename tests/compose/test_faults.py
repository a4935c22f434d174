"""Faults under load on the compose stack, through nginx: PostgreSQL stopped and started, a
Gunicorn worker killed, two clients updating one item at once, and a full image volume.

Clients are real threads speaking HTTPS with an API token; every request has a time bound, so
a hang shows as a failure, not as a stuck test. Each test leaves the shared stack healthy for
the tests after it. The full-volume test brings up a second, short-lived stack whose images
volume is a small tmpfs (tests/compose/full-images.yml).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import secrets
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.compose.conftest import FIGURES, HEALTHY_WITHIN, Stack

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1500)]

USER = "faults"
PASSWORD = "a long password for the fault tests"
PROBLEM = "application/problem+json"
# A client's bound on one request: anything slower counts as a hang.
REQUEST_TIMEOUT_S = 20.0
# "Fail fast" while PostgreSQL is down: the app's connect timeout is 2 s, plus a margin.
FAIL_FAST_S = 5.0
# The bound: service is back by itself this soon after PostgreSQL accepts connections.
RECOVERY_S = 5.0
LOAD_LOCATION = "Faults/Load"
FULL_IMAGES_OVERRIDE = "tests/compose/full-images.yml"


@dataclass
class Reply:
    status: int  # 0: no HTTP answer (connection failed or timed out)
    headers: dict[str, str]
    body: bytes
    started: float
    ended: float
    error: str = ""

    @property
    def elapsed(self) -> float:
        return self.ended - self.started

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body)

    def is_problem(self, status: int) -> bool:
        return self.status == status and self.headers.get("content-type", "").startswith(PROBLEM)

    def describe(self) -> str:
        return f"{self.status} {self.error or self.body[:200]!r} after {self.elapsed:.2f} s"


@dataclass
class Api:
    """An HTTPS client with a bearer token; a new connection per request, bounded in time."""

    port: int
    context: ssl.SSLContext
    token: str = ""
    created: list[int] = field(default_factory=list)  # items made through this client

    def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Accept": "application/json", **(headers or {})}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if payload is not None:
            body = json.dumps(payload).encode()
            sent["Content-Type"] = "application/json"
        started = time.time()  # wall clock: compared with times taken inside containers
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.context, timeout=REQUEST_TIMEOUT_S
        )
        try:
            conn.request(method, path, body=body, headers=sent)
            answer = conn.getresponse()
            data = answer.read()
            found = {k.lower(): v for k, v in answer.getheaders()}
            reply = Reply(answer.status, found, data, started, time.time())
        except (OSError, http.client.HTTPException) as exc:
            return Reply(0, {}, b"", started, time.time(), error=repr(exc))
        finally:
            conn.close()
        if (method, path, reply.status) == ("POST", "/api/v1/items", 201):
            self.created.append(reply.json()["id"])
        return reply

    def get(self, path: str) -> Reply:
        return self.request("GET", path)


# ---- fixtures: a user and token of our own, the TLS context ---------------------------------


def _tls_context(stack: Stack) -> ssl.SSLContext:
    pem = stack.exec("nginx", "cat", "/etc/nginx/ssl/cert.pem")
    context = ssl.create_default_context(cadata=pem)
    context.check_hostname = False  # we dial 127.0.0.1; test_stack checks the names
    return context


def _token_for(stack: Stack, username: str) -> str:
    created = stack.exec(
        "inventory-app",
        *("inventory", "user", "create", "--username", username, "--role", "editor"),
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert f"created editor {username}" in created
    return stack.exec("inventory-app", "inventory", "token", "create", "--username", username)


@pytest.fixture(scope="module")
def api(stack: Stack, tls: ssl.SSLContext) -> Iterator[Api]:
    """A client with an editor's token; the items it made are deleted afterwards, so the
    tests that share the stack find their own items where they left them."""
    client = Api(stack.https_port, tls)
    client.token = _token_for(stack, USER).strip()
    made = client.request("POST", "/api/v1/items", {"name": "seed", "location": LOAD_LOCATION})
    assert made.status == 201, made.describe()  # the location exists before clients race
    yield client
    for item_id in client.created:
        client.request("DELETE", f"/api/v1/items/{item_id}")


# ---- traffic --------------------------------------------------------------------------------


@dataclass
class Traffic:
    """Clients that create, read and list items in a loop until stopped; every reply is kept."""

    api: Api
    clients: int = 4
    replies: list[tuple[str, Reply, int | None]] = field(default_factory=list)
    written: dict[int, str] = field(default_factory=dict)  # acknowledged: id -> name
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Traffic:
        for number in range(self.clients):
            thread = threading.Thread(target=self._client, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT_S + 5)
        assert not any(t.is_alive() for t in self._threads), "a client thread hangs"

    def _client(self, number: int) -> None:
        created: list[int] = []
        step = 0
        while not self._stop.is_set():
            step += 1
            if step % 3 == 1:
                name = f"load {number}-{step} {uuid.uuid4().hex[:8]}"
                reply = self.api.request(
                    "POST", "/api/v1/items", {"name": name, "location": LOAD_LOCATION}
                )
                item_id = reply.json()["id"] if reply.status == 201 else None
                if item_id is not None:
                    created.append(item_id)
                    with self._lock:
                        self.written[item_id] = name
                self._keep("write", reply, item_id)
            elif step % 3 == 2 and created:
                item_id = secrets.choice(created)
                self._keep("read", self.api.get(f"/api/v1/items/{item_id}"), item_id)
            else:
                self._keep("list", self.api.get("/api/v1/items?per_page=5"), None)

    def _keep(self, kind: str, reply: Reply, item_id: int | None) -> None:
        with self._lock:
            self.replies.append((kind, reply, item_id))

    def snapshot(self) -> list[tuple[str, Reply, int | None]]:
        with self._lock:
            return list(self.replies)

    def wait_for(self, count: int, *, ok: bool = True, timeout: float = 30) -> None:
        """Until `count` more replies (successful ones when `ok`) have come in."""
        start = len([r for _, r, _ in self.snapshot() if r.ok or not ok])
        poll(
            lambda: len([r for _, r, _ in self.snapshot() if r.ok or not ok]) >= start + count,
            timeout,
            f"{count} more replies",
        )

    def acknowledged_writes(self) -> dict[int, str]:
        with self._lock:
            return dict(self.written)


def poll(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError(f"not within {timeout} s: {what}")


def assert_all_present(api: Api, written: dict[int, str]) -> None:
    """Every write answered with 201 is there, by id, with the name it was given."""
    assert written
    found = {item_id: api.get(f"/api/v1/items/{item_id}") for item_id in written}
    missing = [i for i, r in found.items() if not (r.ok and r.json()["name"] == written[i])]
    assert not missing, f"{len(missing)} acknowledged write(s) lost: {missing[:20]}"


# ---- PostgreSQL stopped and started under load -----------------------------------------------


def _postgres_ready_at(stack: Stack, since: float) -> float:
    """When PostgreSQL, started after `since`, logged that it accepts connections (wall clock,
    from Docker's own log timestamps)."""
    container = stack.containers("postgres")[0]

    def logged() -> float | None:
        out = subprocess.run(
            ["docker", "logs", "--timestamps", "--since", f"{since:.3f}", container],
            capture_output=True,
            text=True,
            check=True,
        )
        for line in (out.stdout + out.stderr).splitlines():
            if "ready to accept connections" in line:
                stamp = line.split()[0]  # 2026-11-30T04:32:07.232816241Z
                moment = datetime.fromisoformat(stamp[:26] + "+00:00")
                return moment.timestamp()
        return None

    ready: float = poll(logged, 60, "PostgreSQL to accept connections", 0.2)
    return ready


def _app_errors(stack: Stack) -> str:
    """The app's logged errors and tracebacks, to explain a failure."""
    logs = subprocess.run(
        ["docker", "logs", stack.containers("inventory-app")[0]],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = (logs.stdout + logs.stderr).splitlines()
    marks = [i for i, line in enumerate(lines) if "Traceback" in line or "ERROR" in line]
    shown = sorted({j for i in marks for j in range(i, min(i + 40, len(lines)))})
    return "\napp errors:\n" + "\n".join(lines[j] for j in shown)[-8000:]


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_database_restart_under_load(stack: Stack, api: Api, how: str) -> None:
    with Traffic(api) as traffic:
        traffic.wait_for(12)
        stack.compose(how, *(["-t", "10"] if how == "stop" else []), "postgres")
        stopped = time.time()
        down = poll(
            lambda: (r := api.get("/health")).status == 503 and r,
            FAIL_FAST_S * 2,
            "/health to report the database down",
        )
        traffic.wait_for(8, ok=False)  # clients keep asking while it is down
        starting = time.time()
        stack.compose("start", "postgres")
        ready = _postgres_ready_at(stack, since=starting)
        probes: list[Reply] = []
        poll(lambda: probes.append(api.get("/health")) or probes[-1].ok, 30, "/health 200")
        recovered = time.time()
        traffic.wait_for(12)
    replies = traffic.snapshot()

    report = down.json()
    assert report["status"] == "unavailable"
    assert report["database"] == "unavailable"

    during = [(k, r) for k, r, _ in replies if r.started >= stopped and r.ended <= starting]
    assert len(during) >= 8
    not_503 = [f"{k}: {r.describe()}" for k, r in during if not r.is_problem(503)]
    assert not not_503, "\n".join(["not a 503 problem while down:", *not_503]) + _app_errors(stack)
    assert all(b"database" in r.body for _, r in during)
    slow = [f"{k}: {r.describe()}" for k, r in during if r.elapsed > FAIL_FAST_S]
    assert not slow, "slow answers while PostgreSQL was down:\n" + "\n".join(slow)
    # Before, during and after: a request either succeeds or fails fast with a 503.
    odd = [
        f"{k}: {r.describe()}"
        for k, r, _ in replies
        if not r.ok and not (r.is_problem(503) and r.elapsed <= FAIL_FAST_S)
    ]
    assert not odd, "\n".join(odd) + _app_errors(stack)

    FIGURES[f"postgres {how}: 503 answers while down, slowest s"] = (
        len(during),
        round(max(r.elapsed for _, r in during), 2),
    )
    FIGURES[f"postgres {how}: ready -> /health 200 s"] = round(recovered - ready, 2)
    FIGURES[f"postgres {how}: acknowledged writes checked"] = len(traffic.acknowledged_writes())
    assert recovered - ready <= RECOVERY_S, (
        f"recovered {recovered - ready:.1f} s after ready:\n"
        + "\n".join(f"{r.started - ready:.2f}: {r.describe()}" for r in probes)
        + stack.logs(40)
    )
    after = [f"{k}: {r.describe()}" for k, r, _ in replies if r.started >= recovered and not r.ok]
    assert not after, "failures after recovery:\n" + "\n".join(after)

    acknowledged = traffic.acknowledged_writes()
    assert any(r.started >= recovered for k, r, _ in replies if k == "write" and r.ok)
    assert_all_present(api, acknowledged)
    stack.wait_healthy(timeout=HEALTHY_WITHIN)


# ---- a Gunicorn worker killed under load ------------------------------------------------------

# Run inside the app container (no ps there): the Gunicorn master is PID 1's child (tini's),
# its workers are the master's children.
FIND_WORKERS = """
import os, sys, time
def parent(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
master = [p for p in pids if p != os.getpid() and parent(p) == 1]
workers = sorted(p for p in pids if parent(p) in master)
print(" ".join(map(str, workers)))
if sys.argv[1:] == ["kill"]:
    before = time.time()
    os.kill(workers[0], 9)
    print(before, time.time())
"""


def _workers(stack: Stack) -> list[int]:
    out = stack.exec("inventory-app", "python", "-c", FIND_WORKERS)
    return [int(p) for p in out.split()]


def _kill_a_worker(stack: Stack) -> tuple[float, float]:
    """SIGKILL the first worker; the wall-clock moments just before and after the signal."""
    out = stack.exec("inventory-app", "python", "-c", FIND_WORKERS, "kill")
    before, after = map(float, out.splitlines()[1].split())
    return before, after


def test_worker_killed_under_load(stack: Stack, api: Api) -> None:
    before = _workers(stack)
    assert len(before) == 2, before
    with Traffic(api, clients=6) as traffic:
        traffic.wait_for(20)
        kill_started, killed = _kill_a_worker(stack)
        replaced = poll(
            lambda: len(w := _workers(stack)) == 2 and before[0] not in w and w,
            30,
            "Gunicorn to replace the killed worker",
            0.5,
        )
        traffic.wait_for(20)
    replies = traffic.snapshot()

    in_flight = [r for _, r, _ in replies if r.started <= killed and r.ended >= kill_started]
    failed = [r for _, r, _ in replies if not r.ok]
    FIGURES["worker killed: requests, in flight, failed (statuses)"] = (
        len(replies),
        len(in_flight),
        len(failed),
        [r.status for r in failed],
    )
    assert len(failed) <= len(in_flight), [r.describe() for r in failed]
    # Only the request the killed worker held can fail (a sync worker holds one at a time);
    # none that started after it died.
    assert len(failed) <= 1, [r.describe() for r in failed]
    assert all(r in in_flight for r in failed), [r.describe() for r in failed]
    assert before[1] in replaced  # the other worker served on
    assert_all_present(api, traffic.acknowledged_writes())


# ---- two clients update one item at the same time ---------------------------------------------


def _race(api: Api, item_id: int, version: int, how: str) -> list[tuple[str, Reply]]:
    """Two threads send their PATCH at the same moment, both based on `version`."""
    barrier = threading.Barrier(2)
    results: list[tuple[str, Reply]] = []

    def client(label: str) -> None:
        change: dict[str, Any] = {"description": f"written by {label}"}
        headers = {}
        if how == "if-match":
            headers["If-Match"] = f'"{version}"'
        else:
            change["version"] = version
        body = json.dumps(change).encode()
        headers["Content-Type"] = "application/json"
        barrier.wait()
        reply = api.request("PATCH", f"/api/v1/items/{item_id}", body=body, headers=headers)
        results.append((change["description"], reply))

    threads = [threading.Thread(target=client, args=(f"client {n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT_S + 5)
    return results


@pytest.mark.parametrize("how", ["if-match", "version-in-body"])
def test_concurrent_updates_one_wins_other_conflicts(api: Api, how: str) -> None:
    for _round in range(5):
        made = api.request("POST", "/api/v1/items", {"name": f"race {uuid.uuid4().hex[:8]}"})
        assert made.status == 201, made.describe()
        item_id, version = made.json()["id"], made.json()["version"]

        results = _race(api, item_id, version, how)

        assert len(results) == 2
        won = [(text, r) for text, r in results if r.status == 200]
        lost = [(text, r) for text, r in results if r.status != 200]
        assert len(won) == 1, [r.describe() for _, r in results]
        assert lost[0][1].is_problem(409) or lost[0][1].is_problem(412), lost[0][1].describe()
        winner = won[0][0]
        final = api.get(f"/api/v1/items/{item_id}").json()
        assert final["description"] == winner
        assert final["version"] == version + 1
        history = api.get(f"/api/v1/items/{item_id}/history").json()
        changes = [(h["field"], h["new_value"]) for h in history if h["action"] != "created"]
        assert changes == [("description", winner)]


# ---- the image volume is full -----------------------------------------------------------------


@pytest.fixture(scope="module")
def full_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A second stack from the same images whose images volume is a 256 KiB tmpfs."""
    from tests.ports import free_port

    project = f"{stack.project}full"
    http_port, https_port = free_port(), free_port()
    changed = {"COMPOSE_PROJECT_NAME": project, "HTTP_PORT": str(http_port)}
    changed["HTTPS_PORT"] = str(https_port)
    lines = [
        line
        for line in stack.env_file.read_text().splitlines()
        if line.split("=", 1)[0] not in changed
    ]
    env_file = tmp_path_factory.mktemp("full-images") / "test.env"
    env_file.write_text(
        "".join(f"{line}\n" for line in lines + [f"{k}={v}" for k, v in changed.items()])
    )
    full = Stack(
        project,
        {**stack.env, **changed},
        env_file,
        http_port,
        https_port,
        files=(*stack.files, FULL_IMAGES_OVERRIDE),
        command=stack.command,
    )
    try:
        full.compose("up", "-d", "--no-build")
        full.wait_healthy()
        yield full
    finally:
        full.compose("down", "-v", "-t", "3", "--remove-orphans", check=False, timeout=300)


def _photo(width: int, height: int, *, noisy: bool) -> bytes:
    """A JPEG; a noisy one stays large after the app re-encodes it."""
    from PIL import Image, ImageDraw

    if noisy:
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (40, 90, 160))
        ImageDraw.Draw(image).rectangle((10, 10, width // 2, height // 2), fill=(230, 180, 30))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def _upload(api: Api, item_id: int, data: bytes) -> Reply:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; '
            f'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    content_type = f"multipart/form-data; boundary={boundary}"
    return api.request(
        "POST", f"/api/v1/items/{item_id}/photos", body=body, headers={"Content-Type": content_type}
    )


def _image_files(stack: Stack) -> list[str]:
    listing = stack.exec("inventory-app", "find", "/var/lib/inventory/images", "-type", "f")
    return sorted(Path(line).name for line in listing.split())


def test_full_image_volume_refuses_upload_cleanly(full_stack: Stack) -> None:
    api = Api(full_stack.https_port, _tls_context(full_stack))
    api.token = _token_for(full_stack, USER).strip()
    made = api.request("POST", "/api/v1/items", {"name": "Camera", "location": "Home/Desk"})
    assert made.status == 201, made.describe()
    item_id = made.json()["id"]
    small = _upload(api, item_id, _photo(400, 300, noisy=False))
    assert small.status == 201, small.describe()
    files_before = _image_files(full_stack)
    assert len(files_before) == 2  # display copy and thumbnail

    big = _upload(api, item_id, _photo(1600, 1200, noisy=True))

    assert big.is_problem(507), big.describe()
    assert "full" in big.json()["detail"]
    assert _image_files(full_stack) == files_before  # no partial or temporary file
    photos = api.get(f"/api/v1/items/{item_id}").json()["photos"]
    assert len(photos) == 1
    history = api.get(f"/api/v1/items/{item_id}/history").json()
    assert [h["new_value"] for h in history if h["field"] == "photos"] == [1]
    # Still usable: a photo that fits is taken.
    again = _upload(api, item_id, _photo(300, 200, noisy=False))
    assert again.status == 201, again.describe()
