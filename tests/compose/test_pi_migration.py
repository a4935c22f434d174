"""scripts/migrate-from-pi.sh into the running Docker stack (compose files + prod override).

The Pi is the one from tests/integration/test_migrate_from_pi.py (Debian's PostgreSQL 15 with
the app's schema at 0001, reached over a real sshd on loopback). The target is a stack of its
own, started from the images the session's `stack` fixture built, so the shared stack's data
is left alone; everything is checked through nginx, as a user would see it.
"""

from __future__ import annotations

import os
import secrets
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.compose.client import Client
from tests.compose.conftest import COMPOSE_FILES, FIGURES, HEALTHY_WITHIN, ROOT, Stack
from tests.integration.test_migrate_from_pi import (  # noqa: F401 - fixtures used by name
    ADMIN_PASSWORD,
    PG15,
    PI_PASSWORD,
    PI_SECRET,
    SCRIPT,
    SSHD,
    Pi,
    Ssh,
    pi,
    pi_postgres,
    sshd,
)
from tests.ports import free_port

pytestmark = [
    pytest.mark.compose,
    pytest.mark.timeout(900),
]


@pytest.fixture(scope="module")
def empty_stack(stack: Stack) -> Iterator[Stack]:
    """A second project from the same images: fresh volumes, its own ports and secrets."""
    settings = dict(
        line.split("=", 1) for line in stack.env_file.read_text().splitlines() if "=" in line
    )
    settings |= {
        "COMPOSE_PROJECT_NAME": f"{stack.project}pi",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "HTTP_PORT": str(free_port()),
        "HTTPS_PORT": str(free_port()),
    }
    env_file = stack.env_file.with_name("pi-target.env")
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    mine = Stack(
        settings["COMPOSE_PROJECT_NAME"],
        {**os.environ, **settings},
        env_file,
        int(settings["HTTP_PORT"]),
        int(settings["HTTPS_PORT"]),
        command=stack.command,
    )
    try:
        mine.compose("up", "-d")
        mine.wait_healthy(timeout=HEALTHY_WITHIN)
        yield mine
    finally:
        if os.environ.get("INVENTORY_COMPOSE_KEEP") != "1":
            mine.compose("down", "-v", "--remove-orphans", check=False, timeout=300)


def _tls(target: Stack, folder: Path) -> ssl.SSLContext:
    pem = folder / "pi-target-cert.pem"
    pem.write_text(target.exec("nginx", "cat", "/etc/nginx/ssl/cert.pem"))
    context = ssl.create_default_context(cafile=str(pem))
    context.check_hostname = False  # we dial 127.0.0.1
    return context


def test_migrate_from_the_pi_into_the_stack(
    pi: Pi,  # noqa: F811 - the fixture
    sshd: Ssh,  # noqa: F811 - the fixture
    empty_stack: Stack,
    tmp_path: Path,
) -> None:
    files = [arg for name in COMPOSE_FILES for arg in ("-f", str(ROOT / name))]
    compose = " ".join([*empty_stack.command, "--env-file", str(empty_stack.env_file), *files])
    env_out = tmp_path / "stack.env"
    started = time.monotonic()
    result = subprocess.run(
        [
            "bash",
            str(SCRIPT),
            "--target",
            "docker",
            "--project-dir",
            str(ROOT),
            "--compose",
            compose,
            "--env-out",
            str(env_out),
            *sshd.options(),
            "--pi-images",
            str(pi.images),
            "--pi-ml-cache",
            str(pi.ml_cache),
            "--pi-env",
            str(pi.env_file),
            "root@127.0.0.1",
        ],
        env=empty_stack.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    FIGURES["migrate-from-pi.sh into the stack s"] = round(time.monotonic() - started, 1)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "counts match" in result.stdout
    assert "photo files: 6 of 6 in place" in result.stdout
    assert "embedded 8 item(s)" in result.stdout
    assert PI_PASSWORD not in output
    assert PI_SECRET not in output
    assert "POSTGRES_HOST=postgres" in env_out.read_text()
    # The staged copy is gone from the container afterwards.
    left = empty_stack.exec("inventory-app", "ls", "-A", "/var/lib/inventory/images")
    assert ".pi-migration" not in left

    # Through nginx: the Pi's admin signs in with the Pi's password, sees the items, the
    # photos come back byte for byte and plain-words search finds the right thing.
    client = Client(empty_stack.https_port, _tls(empty_stack, tmp_path))
    client.sign_in("pi-admin", ADMIN_PASSWORD)
    listed = client.api("GET", "/api/v1/items?per_page=50")
    assert listed.status == 200, listed.body[:300]
    assert len(listed.json()["items"]) == 8
    for name, data in pi.photos.items():
        served = client.get(f"/images/{name}")
        assert served.status == 200, name
        assert served.body == data
    found = client.api("GET", "/api/v1/search?q=" + quote("warm bag for camping") + "&limit=3")
    assert found.status == 200, found.body[:300]
    assert found.json()["results"][0]["item"]["name"] == "Winter sleeping bag"
    by_token = client.request(
        "GET",
        "/api/v1/items?per_page=1",
        headers={"Authorization": f"Bearer {pi.token}"},
        cookies=False,
    )
    assert by_token.status == 200  # an API token made on the Pi still works
