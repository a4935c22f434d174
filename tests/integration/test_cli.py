"""The `inventory` command as a person runs it: a real process, the real database."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from inventory.db import embedded
from inventory.db.session import Database
from inventory.settings import Settings
from tests.helpers import run_inventory, wait_until
from tests.ports import free_port


@pytest.fixture
def cli_env(settings: Settings, request: pytest.FixtureRequest) -> dict[str, str]:
    """The test server's data directory with a database of this test's own."""
    name = "cli_" + request.node.name.lower().replace("[", "_").replace("]", "")[:40]
    return {
        **os.environ,
        "INVENTORY_DATA_DIR": str(settings.data_dir),
        "POSTGRES_DB": name,
        "SECRET_KEY": "cli-test-secret-" + "y" * 40,
    }


def test_placeholder_secret_stops_production_start(cli_env: dict[str, str]) -> None:
    env = {
        **cli_env,
        "FLASK_ENV": "production",
        "SECRET_KEY": "inventory_docker_secret_key_change_in_production",
    }
    result = run_inventory(env, "serve")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: SECRET_KEY: still the placeholder")
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_setting_names_the_variable(cli_env: dict[str, str]) -> None:
    result = run_inventory({**cli_env, "POSTGRES_PORT": "http"}, "db", "upgrade")
    assert result.returncode == 2
    assert "POSTGRES_PORT" in result.stderr


def test_two_processes_migrating_at_once_both_succeed(cli_env: dict[str, str]) -> None:
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run_inventory(cli_env, "db", "upgrade"), range(2)))
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert all(r.stdout.startswith("schema at ") for r in results)
    heads = {r.stdout.split()[2] for r in results}
    assert len(heads) == 1


def test_users_tokens_import_export(cli_env: dict[str, str], tmp_path: Path) -> None:
    created = run_inventory(
        cli_env,
        "user",
        "create",
        "--username",
        "ann",
        "--role",
        "editor",
        "--password-stdin",
        stdin="a long secret password\n",
    )
    assert created.returncode == 0, created.stderr
    assert "a long secret password" not in created.stdout + created.stderr
    duplicate = run_inventory(
        cli_env,
        "user",
        "create",
        "--username",
        "ANN",
        "--role",
        "viewer",
        "--password-stdin",
        stdin="another long password\n",
    )
    assert duplicate.returncode == 2
    assert "already exists" in duplicate.stderr
    assert "ann\teditor" in run_inventory(cli_env, "user", "list").stdout

    token = run_inventory(cli_env, "token", "create", "--username", "ann").stdout.strip()
    assert token.startswith("inv_")
    revoked = run_inventory(cli_env, "token", "revoke", token)
    assert revoked.returncode == 0
    assert "ann" in revoked.stdout

    source = tmp_path / "in.csv"
    source.write_text("name,location,tags\nTent,Home/Loft,camping\nStove,Home/Loft,camping\n")
    dry = run_inventory(cli_env, "import", str(source), "--dry-run")
    assert dry.returncode == 0
    assert "dry run: 2 to create" in dry.stdout
    done = run_inventory(cli_env, "import", str(source))
    assert "2 created" in done.stdout
    assert "Importing" in done.stderr  # the progress bar

    output = tmp_path / "out.csv"
    assert run_inventory(cli_env, "export", "--output", str(output)).returncode == 0
    lines = output.read_text().splitlines()
    assert lines[0].startswith("asset_id,name")
    assert {line.split(",")[1] for line in lines[1:]} == {"Tent", "Stove"}

    bad = tmp_path / "bad.csv"
    bad.write_text("name,quantity\nA,1\nB,-1\nC,x\n")
    failed = run_inventory(cli_env, "import", str(bad))
    assert failed.returncode == 1
    assert "line 3: quantity" in failed.stderr
    assert "line 4: quantity" in failed.stderr
    assert "nothing imported" in failed.stderr


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return json.load(response)


def test_serve_answers_health_on_a_fresh_data_directory(tmp_path: Path) -> None:
    """What a newcomer gets: `inventory serve` with nothing configured but a data folder."""
    port = free_port()
    env = {
        **os.environ,
        "INVENTORY_DATA_DIR": str(tmp_path / "data"),
        "RELEASE_CANDIDATE": "test-rc",
        "EMBEDDING_MODEL": str(tmp_path / "no-model"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and health is None:
            try:
                health = _get_json(f"http://127.0.0.1:{port}/health")
            except OSError:
                time.sleep(0.3)
        assert health is not None, "server did not answer within 60 s"
        assert health["status"] == "ok"
        assert health["database"] == "ok"
        assert health["release"] == "test-rc"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        # Gunicorn's workers share their counts: the health checks above are all there.
        assert 'inventory_http_requests_total{endpoint="health.health"' in metrics
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
    assert "Traceback" not in output


def test_an_import_killed_midway_changes_nothing(
    cli_env: dict[str, str], settings: Settings, tmp_path: Path
) -> None:
    first = tmp_path / "first.csv"
    first.write_text("asset_id,name,location,quantity\n000-001,Tent,Home/Loft,1\n")
    assert run_inventory(cli_env, "import", str(first)).returncode == 0
    big = tmp_path / "big.csv"
    rows = "".join(f",Box {n},Home/Shed/Shelf {n % 40},{n}\n" for n in range(1500))
    big.write_text("asset_id,name,location,quantity\n000-001,Tent,Home/Garage,99\n" + rows)
    database = Database(embedded.start(settings.data_dir / "postgres", cli_env["POSTGRES_DB"]))
    try:
        importer = subprocess.Popen(
            [sys.executable, "-m", "inventory", "import", str(big)],
            env=cli_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Killed once it has written for a while (its transaction has an id), not yet committed.
        wait_until(lambda: _writers(database) > 0, what="the import to start writing")
        time.sleep(0.5)
        assert importer.poll() is None, "the import finished before it could be killed"
        importer.kill()
        importer.wait()
        wait_until(lambda: _writers(database) == 0, what="the killed import's transaction to end")
        with database.engine.connect() as conn:
            items = conn.execute(text("SELECT name, quantity::int FROM items")).all()
            places = conn.scalars(text("SELECT name FROM locations ORDER BY name")).all()
        assert items == [("Tent", 1)]
        assert places == ["Home", "Loft"]
        again = run_inventory(cli_env, "import", str(big))
        assert again.returncode == 0, again.stderr
        assert "1500 created, 1 updated" in again.stdout
        # The killed process no longer counts as a user of the embedded server, which stops
        # when its last user exits.
        attached = json.loads((settings.data_dir / "postgres" / ".handle_pids.json").read_text())
        assert importer.pid not in attached
    finally:
        database.close()


def _writers(database: Database) -> int:
    """Other sessions on this database inside a transaction that has written something."""
    with database.engine.connect() as conn:
        count: int = conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
            )
        )
        return count
