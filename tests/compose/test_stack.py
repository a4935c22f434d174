"""The whole system in Docker (compose files + prod override), tested through nginx only.

Tests run in file order and share one stack: sign in, items and a photo first, then scaling,
restarts and `down` + `up`, each checking that what was made before is still there.
"""

from __future__ import annotations

import http.client
import re
import secrets
import ssl
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.compose.client import CSRF_FIELD, Client, Response, csrf_from
from tests.compose.conftest import ADMIN, FIGURES, HEALTHY_WITHIN, PASSWORD, Stack

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1500)]

PARAPHRASE = "something that makes holes in a wall"


@pytest.fixture(scope="session")
def items(admin: Client) -> dict[str, int]:
    made = {}
    for name, description, location in (
        ("Cordless drill", "18 V drill driver with two batteries", "Home/Garage/Workbench"),
        ("Sleeping bag", "Down bag rated to -10 °C", "Home/Attic/Camping box"),
        ("Chef's knife", "20 cm blade, kitchen", "Home/Kitchen/Drawer"),
    ):
        reply = admin.api(
            "POST",
            "/api/v1/items",
            {"name": name, "description": description, "location": location},
        )
        assert reply.status == 201, reply.body[:500]
        made[name] = reply.json()["id"]
    return made


@pytest.fixture(scope="session")
def photo(admin: Client, items: dict[str, int]) -> dict[str, Any]:
    reply = admin.upload_photo(items["Cordless drill"], "drill.jpg")
    assert reply.status == 201, reply.body[:500]
    uploaded: dict[str, Any] = reply.json()["photos"][0]
    return uploaded


def _search(client: Client, query: str) -> list[dict[str, Any]]:
    reply = client.api("GET", "/api/v1/search?" + urlencode({"q": query, "limit": 3}))
    assert reply.status == 200, reply.body[:500]
    results: list[dict[str, Any]] = reply.json()["results"]
    return results


def _finds_drill(client: Client, wait: float = 60) -> dict[str, Any]:
    """The paraphrase finds the drill first (embeddings are computed just after a commit)."""
    deadline = time.monotonic() + wait
    results: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        results = _search(client, PARAPHRASE)
        if results and results[0]["item"]["name"] == "Cordless drill":
            return results[0]
        time.sleep(1)
    raise AssertionError(f"{PARAPHRASE!r} did not find the drill first: {results}")


def _everything_still_there(client: Client, items: dict[str, int], photo: dict[str, Any]) -> None:
    for name, item_id in items.items():
        found = client.api("GET", f"/api/v1/items/{item_id}")
        assert found.status == 200, found.body[:300]
        assert found.json()["name"] == name
    image = client.get(photo["url"])
    assert image.status == 200
    _assert_image(image, photo["url"])
    top = _finds_drill(client, wait=30)
    assert top["location_path"] == "Home › Garage › Workbench"


MAGIC = {"jpg": (b"\xff\xd8\xff",), "webp": (b"RIFF", b"WEBP"), "png": (b"\x89PNG",)}


def _assert_image(reply: Response, url: str) -> None:
    """The bytes are the image the URL names (the app keeps display copies as WebP)."""
    extension = url.rsplit(".", 1)[1]
    kind = "jpeg" if extension == "jpg" else extension
    assert reply.headers["content-type"] == f"image/{kind}"
    assert all(marker in reply.body[:16] for marker in MAGIC[extension]), reply.body[:16]


# ---- the stack comes up ---------------------------------------------------------------------


def test_stack_healthy_within_limit(stack: Stack) -> None:
    assert FIGURES["up -> healthy s"] <= HEALTHY_WITHIN
    services = {
        stack.inspect(c)["Config"]["Labels"]["com.docker.compose.service"]
        for c in stack.containers()
    }
    assert services == {"postgres", "inventory-app", "nginx"}  # no tunnel without its profile


def test_images_are_small_enough(stack: Stack) -> None:
    assert FIGURES["image inventory-app:compose-test MB"] <= 700  # goal 600 on the real base


def test_health_through_nginx(stack: Stack, tls: ssl.SSLContext) -> None:
    reply = Client(stack.https_port, tls).get("/health")
    assert reply.status == 200
    report = reply.json()
    assert report["status"] == "ok"
    assert report["database"] == "ok"
    assert report["migrations"] == "ok"
    assert report["embeddings"] == "ok"
    assert report["release"] == "compose-test"


# ---- nginx: TLS, redirect, headers ------------------------------------------------------------


def test_http_redirects_to_https(stack: Stack) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=10)
    try:
        conn.request("GET", "/items?q=drill")
        reply = conn.getresponse()
        reply.read()
    finally:
        conn.close()
    assert reply.status == 301
    assert reply.getheader("Location") == f"https://127.0.0.1:{stack.https_port}/items?q=drill"


@pytest.mark.parametrize("name", ["localhost", "inventory.test"])
def test_tls_with_generated_certificate(stack: Stack, certificate: Path, name: str) -> None:
    context = ssl.create_default_context(cafile=str(certificate))  # hostname checked
    with socket_to(stack.https_port) as raw, context.wrap_socket(raw, server_hostname=name) as tls:
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}


def test_tls_refuses_old_protocols(stack: Stack) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Let the client offer TLS 1.0/1.1 (its own defaults forbid them), so only nginx can refuse.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old versions, on purpose
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError), socket_to(stack.https_port) as raw:
        context.wrap_socket(raw, server_hostname="localhost").close()


def socket_to(port: int) -> Any:
    import socket

    return socket.create_connection(("127.0.0.1", port), timeout=10)


def test_security_headers_and_gzip(stack: Stack, tls: ssl.SSLContext) -> None:
    reply = Client(stack.https_port, tls).get("/login", headers={"Accept-Encoding": "gzip"})
    assert reply.status in (200, 302)
    assert reply.headers["strict-transport-security"].startswith("max-age=")
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["referrer-policy"] == "same-origin"
    # The app's policy passes through nginx: scripts only from this site, never inline.
    policy = dict(
        part.strip().split(" ", 1) for part in reply.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in reply.headers["content-security-policy"]
    css = Client(stack.https_port, tls).get("/static/app.css", headers={"Accept-Encoding": "gzip"})
    assert css.status == 200
    assert css.headers.get("content-encoding") == "gzip"


# ---- the app through nginx ------------------------------------------------------------------


def test_only_the_tunnel_port_takes_the_visitors_address(stack: Stack) -> None:
    """cloudflared's port (8443, unpublished) logs the address Cloudflare vouches for; the
    public port ignores the same header, which anyone could send."""
    marker = secrets.token_hex(6)
    for port, visitor in ((8443, "203.0.113.7"), (443, "203.0.113.8")):
        stack.exec(
            "nginx",
            "curl",
            "--silent",
            "--insecure",
            "--output",
            "/dev/null",
            "--header",
            f"CF-Connecting-IP: {visitor}",
            f"https://127.0.0.1:{port}/login?{marker}-{port}",
        )
    lines = stack.compose("logs", "--no-color", "nginx").stdout.splitlines()
    through_tunnel = next(line for line in lines if f"{marker}-8443" in line)
    direct = next(line for line in lines if f"{marker}-443 " in line)
    assert "203.0.113.7" in through_tunnel
    assert "203.0.113.8" not in direct
    assert "127.0.0.1" in direct
    published = {
        binding["HostPort"]
        for container in stack.containers("nginx")
        for bindings in stack.inspect(container)["NetworkSettings"]["Ports"].values()
        for binding in bindings or []
    }
    assert published == {str(stack.http_port), str(stack.https_port)}


def test_sign_in_creates_a_secure_session(admin: Client) -> None:
    assert "inventory_session" in admin.cookies
    reply = admin.get("/")
    assert reply.status == 200
    signed_out = Client(admin.port, admin.context).get("/")
    assert signed_out.status == 302
    assert "/login" in signed_out.headers["location"]


def test_items_are_created(admin: Client, items: dict[str, int]) -> None:
    reply = admin.api("GET", f"/api/v1/items/{items['Cordless drill']}")
    assert reply.status == 200
    assert reply.json()["name"] == "Cordless drill"


def test_photo_is_served_by_nginx_only_to_signed_in_users(
    stack: Stack, admin: Client, photo: dict[str, Any]
) -> None:
    url = photo["url"]
    assert url.startswith("/images/")
    image = admin.get(url)
    assert image.status == 200
    _assert_image(image, url)
    # nginx's own file answer (ETag "mtime-size"), with the app's caching rule kept.
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', image.headers["etag"]), image.headers
    assert image.headers["cache-control"].startswith("private")
    anonymous = Client(admin.port, admin.context)
    assert anonymous.get(url).status == 401
    # The internal location is not reachable from outside.
    name = url.rsplit("/", 1)[1]
    internal = f"/_images/{name[:2]}/{name[2:4]}/{name}"
    assert anonymous.get(internal).status == 404
    assert admin.get(internal).status == 404
    # nginx's copy of the volume is read-only.
    probe = stack.compose(
        "exec", "-T", "nginx", "touch", "/var/lib/inventory/images/x", check=False
    )
    assert probe.returncode != 0


def test_semantic_search_finds_a_paraphrase(admin: Client, items: dict[str, int]) -> None:
    top = _finds_drill(admin)
    assert top["location_path"] == "Home › Garage › Workbench"


# ---- isolation and hardening ----------------------------------------------------------------


def test_postgres_is_not_published(stack: Stack) -> None:
    for container in stack.containers():
        info = stack.inspect(container)
        service = info["Config"]["Labels"]["com.docker.compose.service"]
        published = {
            port: bindings
            for port, bindings in (info["NetworkSettings"]["Ports"] or {}).items()
            if bindings
        }
        if service == "nginx":
            assert set(published) == {"80/tcp", "443/tcp"}
            assert all(b["HostIp"] == "127.0.0.1" for v in published.values() for b in v)
        else:
            assert published == {}, (service, published)


def test_app_runs_unprivileged_under_an_init(stack: Stack) -> None:
    assert stack.exec("inventory-app", "id", "-u").strip() != "0"
    assert stack.exec("inventory-app", "cat", "/proc/1/comm").strip() == "tini"
    # Prod override: read-only root, writable /tmp, no capabilities, no new privileges.
    assert (
        stack.compose("exec", "-T", "inventory-app", "touch", "/opt/x", check=False).returncode != 0
    )
    assert stack.exec("inventory-app", "mktemp").strip()  # the tmpfs /tmp is writable
    status = stack.exec("inventory-app", "cat", "/proc/1/status")
    assert re.search(r"^CapEff:\s+0+$", status, re.M), status
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
    app = stack.inspect(stack.containers("inventory-app")[0])
    assert app["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert app["HostConfig"]["Memory"] > 0
    assert app["HostConfig"]["LogConfig"]["Config"].get("max-size") == "10m"


def test_idle_memory(stack: Stack, admin: Client, items: dict[str, int]) -> None:
    _finds_drill(admin)  # the model has answered at least once
    time.sleep(5)
    import subprocess

    out = subprocess.run(
        [
            "docker",
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}}\t{{.MemUsage}}",
            *stack.containers(),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    usage = {}
    for line in out.strip().splitlines():
        name, mem = line.split("\t")
        usage[name] = _mebibytes(mem.split("/")[0].strip())
    FIGURES["idle memory MiB"] = {k: round(v) for k, v in usage.items()}
    FIGURES["idle memory total MiB"] = round(sum(usage.values()))
    assert sum(usage.values()) <= 700


def _mebibytes(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)\s*([KMG]i?B|B)", text).groups()  # type: ignore[union-attr]
    scale = {
        "B": 1 / 2**20,
        "KiB": 1 / 1024,
        "MiB": 1,
        "GiB": 1024,
        "kB": 1 / 1049,
        "MB": 0.954,
        "GB": 954,
    }
    return float(number) * scale[unit]


# ---- scale, restart, down + up --------------------------------------------------------------


def test_three_replicas_all_serve(stack: Stack, tls: ssl.SSLContext) -> None:
    stack.compose("up", "-d", "--no-recreate", "--scale", "inventory-app=3")
    try:
        stack.wait_healthy(replicas=3)
        apps = stack.containers("inventory-app")
        assert len(apps) == 3
        time.sleep(11)  # nginx asks Docker's DNS again after `valid=10s`
        marker = secrets.token_hex(6)
        client = Client(stack.https_port, tls)
        for i in range(30):
            # Found again in the serving replica's log: as its request id, or in the query.
            probe = f"probe-{marker}-{i}"
            reply = client.get(f"/health?{probe}", headers={"X-Request-ID": probe})
            assert reply.status == 200
        import subprocess

        served = {}
        for container in apps:
            logs = subprocess.run(
                ["docker", "logs", container], capture_output=True, text=True, check=True
            )
            served[container[:12]] = (logs.stdout + logs.stderr).count(f"probe-{marker}-")
        FIGURES["log lines naming the 30 probes, per replica"] = served
        assert all(count > 0 for count in served.values()), served
    finally:
        stack.compose("up", "-d", "--no-recreate", "--scale", "inventory-app=1")


def test_restart_keeps_data(
    stack: Stack, admin: Client, items: dict[str, int], photo: dict[str, Any], certificate: Path
) -> None:
    stack.compose("restart")
    stack.wait_healthy()
    _everything_still_there(admin, items, photo)
    assert stack.exec("nginx", "cat", "/etc/nginx/ssl/cert.pem") == certificate.read_text()


def test_down_and_up_keep_data(
    stack: Stack, admin: Client, items: dict[str, int], photo: dict[str, Any], certificate: Path
) -> None:
    stack.compose("down")
    assert stack.containers() == []
    started = time.monotonic()
    stack.compose("up", "-d")
    stack.wait_healthy()
    FIGURES["up -> healthy again (volumes kept) s"] = round(time.monotonic() - started, 1)
    # The session lives in the database, so the browser stays signed in.
    _everything_still_there(admin, items, photo)
    assert stack.exec("nginx", "cat", "/etc/nginx/ssl/cert.pem") == certificate.read_text()
    again = Client(admin.port, admin.context)
    again.sign_in(ADMIN, PASSWORD)


def test_no_secret_reaches_any_log(stack: Stack, admin: Client, tls: ssl.SSLContext) -> None:
    """After everything above (sign-ins, uploads, restarts), plus a token used and a wrong
    password tried: no container's log holds a secret."""
    made = admin.api("POST", "/api/v1/me/tokens", {"name": "log check"})
    assert made.status == 201, made.body[:300]
    token = made.json()["token"]
    bearer = Client(stack.https_port, tls)
    assert bearer.get("/api/v1/items", headers={"Authorization": f"Bearer {token}"}).status == 200
    wrong = "wrong-" + secrets.token_hex(8)
    intruder = Client(stack.https_port, tls)
    form = intruder.get("/login")
    attempt = intruder.request(
        "POST",
        "/login",
        body=urlencode(
            {"username": ADMIN, "password": wrong, "csrf_token": csrf_from(form.body, CSRF_FIELD)}
        ).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert attempt.status in (200, 400, 401, 429), attempt.status
    logs = stack.compose("logs", "--no-color").stdout
    assert "inventory-app" in logs  # the logs were read at all
    for name, secret in (
        ("SECRET_KEY", stack.env["SECRET_KEY"]),
        ("POSTGRES_PASSWORD", stack.env["POSTGRES_PASSWORD"]),
        ("the admin's password", PASSWORD),
        ("a wrong password", wrong),
        ("an API token", token),
        ("a session cookie", admin.cookies["inventory_session"]),
    ):
        assert secret not in logs, f"{name} is in the logs"


# ---- the other compose files ----------------------------------------------------------------


def test_tunnel_profile_config_is_valid(stack: Stack) -> None:
    config = stack.compose("--profile", "tunnel", "config").stdout
    assert "cloudflared" in config
    assert "TUNNEL_TOKEN" in config


def test_dev_override_config(stack: Stack) -> None:
    dev = Stack(
        stack.project,
        stack.env,
        stack.env_file,
        stack.http_port,
        stack.https_port,
        files=("docker-compose.yml", "docker-compose.dev.yml"),
        command=stack.command,
    )
    config = dev.compose("config").stdout
    assert "--reload" in config
    assert "127.0.0.1" in config
    assert "/opt/inventory/src" in config
