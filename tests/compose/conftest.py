"""The compose stack on a real Docker Engine, talked to through nginx only.

Session fixtures: build the stand-in base images (once, cached by tag), put the ONNX model into
docker/model/ (MODEL_SOURCE=local), build the project's own images with its own compose files,
bring the stack up under a unique project name on free 127.0.0.1 ports, and always `down -v`.

Without Docker these tests skip, unless INVENTORY_REQUIRE_DOCKER=1 (CI): then they fail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.compose import standins
from tests.compose.client import Client
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "docker" / "model"
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.prod.yml")
HEALTHY_WITHIN = 120.0
ADMIN = "admin"
PASSWORD = "a long compose test password"
# Collected along the way and printed at the end of the run (pytest_terminal_summary).
FIGURES: dict[str, Any] = {}


def _docker_problem() -> str | None:
    """Why Docker cannot be used here, or None when it can."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return f"the Docker daemon does not answer: {info.stderr.strip()[-300:]}"
    if _compose_command() is None:
        return "neither `docker compose` nor `docker-compose` is installed"
    return None


def _compose_command() -> list[str] | None:
    v2 = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    if v2.returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


@pytest.fixture(scope="session")
def docker() -> None:
    problem = _docker_problem()
    if problem is None:
        return
    if os.environ.get("INVENTORY_REQUIRE_DOCKER") == "1":
        pytest.fail(f"INVENTORY_REQUIRE_DOCKER=1 but Docker is unusable: {problem}")
    pytest.skip(f"Docker is not available ({problem}); set INVENTORY_REQUIRE_DOCKER=1 to fail")


@pytest.fixture(scope="session")
def base_images(docker: None) -> None:
    started = time.monotonic()
    built = standins.build_all()
    FIGURES["stand-ins"] = built or ["all cached"]
    FIGURES["stand-ins time s"] = round(time.monotonic() - started, 1)


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docker/model/ holding the ONNX export of the test model (made once, then reused)."""
    needed = ("model.onnx", "tokenizer.json", "inventory-onnx.json")
    if all((MODEL_DIR / name).is_file() for name in needed):
        return MODEL_DIR
    from tests.embedding_model import model_path

    work = tmp_path_factory.mktemp("onnx-export")
    env = {
        **os.environ,
        "TRANSFORMERS_CACHE": str(work / "cache"),
        "INVENTORY_DATA_DIR": str(work / "data"),
        "HF_HUB_OFFLINE": "1",
    }
    subprocess.run(
        [sys.executable, "-m", "inventory", "model", "export-onnx", model_path()],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    exported = next((work / "cache" / "onnx").iterdir())
    for name in needed:
        shutil.copy(exported / name, MODEL_DIR / name)
    return MODEL_DIR


@dataclass
class Stack:
    """One compose project, driven through the project's own compose files."""

    project: str
    env: dict[str, str]
    env_file: Path
    http_port: int
    https_port: int
    files: tuple[str, ...] = COMPOSE_FILES
    command: list[str] = field(default_factory=list)

    def compose(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        files = [arg for name in self.files for arg in ("-f", str(ROOT / name))]
        result = subprocess.run(
            [*self.command, "--env-file", str(self.env_file), *files, *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"compose {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def exec(self, service: str, *command: str, input: str | None = None) -> str:
        """`compose exec -T` on the service's first container, whatever its number (after a
        rolling update there is no #1, where Compose 1.29's exec looks by default)."""
        container = self.containers(service)[0]
        result = subprocess.run(
            ["docker", "exec", "-i", container, *command],
            input=input,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"exec {' '.join(command)} in {service} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def containers(self, service: str | None = None) -> list[str]:
        args = ["ps", "-q"] + ([service] if service else [])
        return self.compose(*args).stdout.split()

    def inspect(self, container: str) -> dict[str, Any]:
        out = subprocess.run(
            ["docker", "inspect", container], capture_output=True, text=True, check=True
        ).stdout
        found: dict[str, Any] = json.loads(out)[0]
        return found

    def wait_healthy(self, timeout: float = HEALTHY_WITHIN, replicas: int = 1) -> float:
        """Seconds until every container with a healthcheck is healthy."""
        started = time.monotonic()
        states: dict[str, str] = {}
        while time.monotonic() - started < timeout:
            states = {}
            for container in self.containers():
                info = self.inspect(container)
                health = info["State"].get("Health")
                states[info["Name"]] = health["Status"] if health else info["State"]["Status"]
            apps = [name for name in states if "inventory-app" in name]
            if (
                len(apps) >= replicas
                and len(states) >= replicas + 2
                and all(s in {"healthy", "running"} for s in states.values())
            ):
                return time.monotonic() - started
            time.sleep(1)
        raise AssertionError(f"not healthy within {timeout:.0f} s: {states}\n{self.logs()}")

    def logs(self, tail: int = 60) -> str:
        result = self.compose("logs", "--no-color", "--tail", str(tail), check=False)
        return result.stdout[-6000:]


@pytest.fixture(scope="session")
def stack(
    base_images: None, model_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    command = _compose_command()
    assert command is not None
    work = tmp_path_factory.mktemp("compose")
    http_port, https_port = free_port(), free_port()
    settings = {
        "COMPOSE_PROJECT_NAME": f"invtest{os.getpid()}{secrets.token_hex(2)}",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "SERVER_NAME": "inventory.test",
        "BIND_ADDRESS": "127.0.0.1",
        "HTTP_PORT": str(http_port),
        "HTTPS_PORT": str(https_port),
        "MODEL_SOURCE": "local",
        "RELEASE_CANDIDATE": "compose-test",
        # Own tags, so a developer's inventory-app:latest is left alone.
        "INVENTORY_IMAGE": "inventory-app:compose-test",
        "NGINX_IMAGE": "inventory-nginx:compose-test",
        "TUNNEL_TOKEN": "",
    }
    env_file = work / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    # Shell variables win over the env file in Compose: set ours there too.
    env = {**os.environ, **settings}
    running = Stack(
        settings["COMPOSE_PROJECT_NAME"], env, env_file, http_port, https_port, command=command
    )
    FIGURES["compose"] = " ".join(command) + " " + running.compose("version").stdout.split("\n")[0]
    try:
        started = time.monotonic()
        running.compose("build", timeout=1200)
        FIGURES["build time s"] = round(time.monotonic() - started, 1)
        for name in (settings["INVENTORY_IMAGE"], settings["NGINX_IMAGE"]):
            size = running.inspect(name)["Size"]
            FIGURES[f"image {name} MB"] = round(size / 1e6)
        started = time.monotonic()
        running.compose("up", "-d")
        running.wait_healthy(timeout=HEALTHY_WITHIN)
        FIGURES["up -> healthy s"] = round(time.monotonic() - started, 1)
        yield running
    finally:
        if os.environ.get("INVENTORY_COMPOSE_KEEP") != "1":  # keep it up to debug by hand
            running.compose("down", "-v", "--remove-orphans", check=False, timeout=300)
        (work / "figures.json").write_text(json.dumps(FIGURES, indent=2))


@pytest.fixture(scope="session")
def certificate(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The certificate nginx generated on first start, read from its ssl_data volume."""
    pem = stack.exec("nginx", "cat", "/etc/nginx/ssl/cert.pem")
    path = tmp_path_factory.mktemp("tls") / "cert.pem"
    path.write_text(pem)
    return path


@pytest.fixture(scope="session")
def tls(certificate: Path) -> ssl.SSLContext:
    """Verifies the server against the generated certificate, host name checks included."""
    context = ssl.create_default_context(cafile=str(certificate))
    context.check_hostname = False  # we dial 127.0.0.1; names are checked in test_tls
    return context


@pytest.fixture(scope="session")
def admin(stack: Stack, tls: ssl.SSLContext) -> Client:
    created = stack.exec(
        "inventory-app",
        "inventory",
        "user",
        "create",
        "--username",
        ADMIN,
        "--role",
        "admin",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert "created admin" in created
    client = Client(stack.https_port, tls)
    client.sign_in(ADMIN, PASSWORD)
    return client


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("compose stack figures")
        for key, value in FIGURES.items():
            terminalreporter.write_line(f"{key}: {value}")
