"""The import contract in pyproject.toml (make lint runs it): it holds for the code as it is,
and it would catch the arrow it exists to forbid."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(source: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the package found under `source` (a copy of src/)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=source,
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_layers_hold_and_a_model_importing_the_web_breaks_them(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "inventory",
        source / "inventory",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    kept = _lint_imports(source)
    assert kept.returncode == 0, kept.stdout + kept.stderr

    models = source / "inventory" / "db" / "models.py"
    models.write_text(models.read_text() + "\nfrom inventory.web import auth  # noqa: E402,F401\n")
    broken = _lint_imports(source)
    assert broken.returncode != 0
    assert "inventory.db.models -> inventory.web.auth" in broken.stdout
