"""Local stand-ins for the public base images, built from Debian packages (tests only).

No registry is reachable here, so each stand-in is tagged with the exact public name the
project's Dockerfiles and compose file use; those files then build unchanged. A stand-in whose
tag already exists is reused, so only the first run pays for debootstrap and apt.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent / "standins"
BASE = "inventory-standin/debian:bookworm"
PYTHON = "python:3.11-slim-bookworm"
POSTGRES = "pgvector/pgvector:0.8.0-pg16"
NGINX = "nginx:1.27-bookworm"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
MIRROR = "http://deb.debian.org/debian"


def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def image_exists(tag: str) -> bool:
    found = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False)
    return found.returncode == 0


def build_base(log: list[str]) -> None:
    """Debian bookworm minbase from debootstrap, imported as an image."""
    if image_exists(BASE):
        return
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (apt-get install debootstrap)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="standin-root-") as root:
        run(
            "debootstrap",
            "--variant=minbase",
            "--include=ca-certificates",
            "bookworm",
            root,
            MIRROR,
            stdout=subprocess.DEVNULL,
        )
        _slim(Path(root))
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        with tar:
            run(
                "docker",
                "import",
                "--change",
                'CMD ["bash"]',
                "-",
                BASE,
                stdin=tar.stdout,
                stdout=subprocess.DEVNULL,
            )
        if tar.returncode != 0:
            raise RuntimeError("tar of the debootstrap root failed")
    log.append(f"{BASE}: debootstrap + import {time.monotonic() - started:.0f} s")


# As in the official debian:bookworm-slim: apt keeps no caches, dpkg installs no docs.
APT_CLEAN = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
"""
DPKG_EXCLUDE = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""


def _slim(root: Path) -> None:
    (root / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
    (root / "etc/dpkg/dpkg.cfg.d/docker").write_text(DPKG_EXCLUDE)
    for sub in ("var/lib/apt/lists", "var/cache/apt", "usr/share/man", "usr/share/info"):
        for entry in (root / sub).glob("**/*"):
            if entry.is_file():
                entry.unlink()
    for entry in (root / "usr/share/locale").glob("*"):
        if entry.is_dir():
            shutil.rmtree(entry)
    for entry in (root / "usr/share/doc").glob("**/*"):
        if entry.is_file() and entry.name != "copyright":
            entry.unlink()


def _build(tag: str, context: Path, log: list[str]) -> None:
    started = time.monotonic()
    run("docker", "build", "--quiet", "-t", tag, str(context), stdout=subprocess.DEVNULL)
    log.append(f"{tag}: built {time.monotonic() - started:.0f} s")


def build_python(log: list[str]) -> None:
    if image_exists(PYTHON):
        return
    with tempfile.TemporaryDirectory(prefix="standin-python-") as tmp:
        context = Path(tmp)
        shutil.copy(HERE / "python" / "Dockerfile", context)
        # The host's bundle holds the CA of the inspecting proxy that pip's HTTPS passes.
        shutil.copy(HOST_CA, context / "host-ca-certificates.crt")
        _build(PYTHON, context, log)


def build_postgres(log: list[str]) -> None:
    if image_exists(POSTGRES):
        return
    import pgserver  # the dev venv has it: the app's embedded database

    package = Path(pgserver.__file__).parent
    with tempfile.TemporaryDirectory(prefix="standin-postgres-") as tmp:
        context = Path(tmp)
        for name in ("Dockerfile", "docker-entrypoint.sh"):
            shutil.copy(HERE / "postgres" / name, context)
        shutil.copytree(
            package,
            context / "pgserver",
            ignore=shutil.ignore_patterns("__pycache__", "*.py", "include", "*.a"),
        )
        shutil.copytree(package.parent / "pgserver.libs", context / "pgserver.libs")
        _build(POSTGRES, context, log)


def build_nginx(log: list[str]) -> None:
    if image_exists(NGINX):
        return
    _build(NGINX, HERE / "nginx", log)


def build_all() -> list[str]:
    """Build every missing stand-in; returns one line per image built, with its time."""
    log: list[str] = []
    build_base(log)
    build_python(log)
    build_postgres(log)
    build_nginx(log)
    return log
