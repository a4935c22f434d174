"""Moving a Raspberry Pi install into this one with scripts/migrate-from-pi.sh, end to end.

The Pi is played by Debian's PostgreSQL 15 (a cluster of the test's own, on a free port) with an
`inventory_db` made by this app's migrations at revision 0001 (the release before search
vectors: no pgvector there) and filled with accounts, places, items, tags, history and photos;
its files sit in a folder that the script fetches over a real SSH connection (Debian's sshd,
run by the test on loopback with generated keys). The target is the embedded PostgreSQL 16.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from inventory import accounts
from inventory.app import create_app
from inventory.db import embedded, migrate
from inventory.db.models import Role
from inventory.db.session import Database
from inventory.embeddings import Embedder
from inventory.photos.processing import process_photo
from inventory.photos.store import FilesystemStore
from inventory.settings import Settings
from tests.embedding_model import model_path
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "migrate-from-pi.sh"
PG15 = Path("/usr/lib/postgresql/15/bin")
SSHD = Path("/usr/sbin/sshd")
PI_PASSWORD = "inventory_pi_2024"
PI_SECRET = "pi-secret-key-" + "k" * 40
ADMIN_PASSWORD = "the pi admin's password"
ITEMS = {
    "Cordless drill": ("Home/Garage/Workbench", ["tools", "power"]),
    "Winter sleeping bag": ("Home/Loft", ["camping"]),
    "Camping stove": ("Home/Loft", ["camping"]),
    "Tent": ("Home/Loft", ["camping"]),
    "Socket set": ("Home/Garage/Workbench", ["tools"]),
    "Extension cord": ("Home/Garage", ["power"]),
    "Passport": ("Home/Office/Desk drawer", ["documents"]),
    "Wine glasses": ("Home/Kitchen", []),
}


def require_pi_standin() -> None:
    """Skip without Debian's postgresql-15 and openssh-server (as root); with
    INVENTORY_REQUIRE_PI_STANDIN=1 (CI) fail instead, so a broken install cannot pass."""
    if (PG15 / "initdb").exists() and SSHD.exists() and os.geteuid() == 0:
        return
    why = "needs Debian's postgresql-15 and openssh-server, as root (see .ci/run)"
    if os.environ.get("INVENTORY_REQUIRE_PI_STANDIN") == "1":
        pytest.fail(f"INVENTORY_REQUIRE_PI_STANDIN=1 but this machine {why}")
    pytest.skip(why)


# ---- the Pi: PostgreSQL 15 + the app's schema at 0001 + data + files ------------------------


@dataclass
class Pi:
    root: Path  # the Pi's /var/lib/inventory
    port: int
    env_file: Path
    photos: dict[str, bytes]  # storage name -> bytes, as on the Pi
    token: str  # an API token made on the Pi

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def ml_cache(self) -> Path:
        return self.root / "ml_cache"

    def url(self, database: str = "inventory_db") -> str:
        return f"postgresql+psycopg://inventory:{PI_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        return _as_postgres(
            [
                str(PG15 / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ],
            env={"PGPASSWORD": "postgres-pw"},
        )

    def dump(self, target: Path, database: str = "inventory_db", *args: str) -> Path:
        subprocess.run(
            [str(PG15 / "pg_dump"), *args, f"--file={target}", database],
            env={**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.port)}
            | {"PGUSER": "inventory", "PGPASSWORD": PI_PASSWORD},
            check=True,
            capture_output=True,
        )
        return target


def _as_postgres(command: list[str], env: dict[str, str] | None = None) -> str:
    user = pwd.getpwnam("postgres")
    result = subprocess.run(
        command,
        user=user.pw_uid,
        group=user.pw_gid,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"{command[0]} failed: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def pi_postgres() -> Iterator[tuple[Path, int]]:
    """Debian's PostgreSQL 15 in a folder of its own: the Pi's database server."""
    require_pi_standin()
    work = Path(tempfile.mkdtemp(prefix="pi-pg15-"))
    user = pwd.getpwnam("postgres")
    os.chown(work, user.pw_uid, user.pw_gid)
    data, port = work / "data", free_port()
    password_file = work / "pw"
    password_file.write_text("postgres-pw\n")
    os.chown(password_file, user.pw_uid, user.pw_gid)
    _as_postgres(
        [
            str(PG15 / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={password_file}",
            "-E",
            "UTF8",
        ]
    )
    options = f"-p {port} -k {work} -c listen_addresses=localhost"
    _as_postgres(
        [
            str(PG15 / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(work / "log"),
            "-w",
            "start",
        ]
    )
    try:
        yield work, port
    finally:
        _as_postgres([str(PG15 / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def pi(pi_postgres: tuple[Path, int], tmp_path_factory: pytest.TempPathFactory) -> Pi:
    """The Pi's inventory_db at schema 0001, filled as the older release left it."""
    _, port = pi_postgres
    root = tmp_path_factory.mktemp("pi") / "var-lib-inventory"
    (root / "config").mkdir(parents=True)
    env_file = root / "config" / "environment.env"
    env_file.write_text(
        "# the Pi's settings\n"
        "POSTGRES_HOST=localhost\n"
        f"POSTGRES_PORT={port}\n"
        "POSTGRES_USER=inventory\n"
        f"POSTGRES_PASSWORD={PI_PASSWORD}\n"
        "POSTGRES_DB=inventory_db\n"
        "FLASK_ENV=production\n"
        f'SECRET_KEY="{PI_SECRET}"\n'
        "RELEASE_CANDIDATE=RC8\n"
        "IMAGE_STORAGE_METHOD=filesystem\n"
        "IMAGE_DIR=/var/lib/inventory/images\n"
        "TRANSFORMERS_CACHE=/var/lib/inventory/ml_cache\n"
        "HF_HOME=/var/lib/inventory/ml_cache\n"
        "CF_WORKER_URL=https://register.nestdb.io\n"
    )
    made = Pi(root=root, port=port, env_file=env_file, photos={}, token="")
    made.psql(f"CREATE ROLE inventory LOGIN PASSWORD '{PI_PASSWORD}'")
    made.psql("CREATE DATABASE inventory_db OWNER inventory")
    engine = create_engine(made.url())
    try:
        migrate.upgrade(engine, "0001")  # the app's own schema, as the older release made it
        _fill(made, Database(made.url()))
    finally:
        engine.dispose()
    (made.ml_cache / "sentence_transformers").mkdir(parents=True)
    (made.ml_cache / "sentence_transformers" / "config.json").write_text('{"pi": true}')
    return made


def _fill(pi: Pi, database: Database) -> None:
    with database.session() as session:
        admin = accounts.create_user(
            session=session, username="pi-admin", password=ADMIN_PASSWORD, role=Role.admin
        )
        accounts.create_user(
            session=session, username="guest", password="a guest's password", role=Role.viewer
        )
        pi.token = accounts.create_token(session=session, user=admin, name="phone").secret
        admin_id = admin.id
    with database.engine.begin() as conn:
        places: dict[str, int] = {}
        for path, _ in ITEMS.values():
            parent = None
            for depth, name in enumerate(path.split("/"), 1):
                key = "/".join(path.split("/")[:depth])
                if key not in places:
                    places[key] = conn.scalar(
                        text(
                            "INSERT INTO locations (name, parent_id) VALUES (:n, :p) RETURNING id"
                        ),
                        {"n": name, "p": parent},
                    )
                parent = places[key]
        tags: dict[str, int] = {}
        for number, (name, (path, item_tags)) in enumerate(ITEMS.items(), 1):
            item_id = conn.scalar(
                text(
                    "INSERT INTO items (asset_id, name, description, location_id, created_by_id,"
                    " custom_fields) VALUES (:a, :n, :d, :l, :u, CAST(:f AS jsonb)) RETURNING id"
                ),
                {
                    "a": f"{number:03d}-{number:03d}",
                    "n": name,
                    "d": f"{name}, kept in the {path.split('/')[-1].lower()}\nsecond line",
                    "l": places[path],
                    "u": admin_id,
                    "f": json.dumps([{"name": "Note", "type": "text", "value": "tab\there"}]),
                },
            )
            for tag in item_tags:
                if tag not in tags:
                    tags[tag] = conn.scalar(
                        text("INSERT INTO tags (name) VALUES (:n) RETURNING id"), {"n": tag}
                    )
                conn.execute(
                    text("INSERT INTO item_tags VALUES (:i, :t)"), {"i": item_id, "t": tags[tag]}
                )
            conn.execute(
                text(
                    "INSERT INTO item_history (item_id, actor_id, actor_name, action, field,"
                    " new_value) VALUES (:i, :u, 'pi-admin', 'create', NULL, NULL),"
                    " (:i, :u, 'pi-admin', 'update', 'quantity', '2')"
                ),
                {"i": item_id, "u": admin_id},
            )
        conn.execute(text("SELECT setval('item_asset_seq', :n)"), {"n": len(ITEMS)})
        store = FilesystemStore(pi.images)
        for number, item in enumerate(("Cordless drill", "Tent", "Winter sleeping bag")):
            jpeg = io.BytesIO()
            Image.new("RGB", (640, 480), (30 * number, 120, 200)).save(jpeg, "JPEG")
            photo = process_photo(jpeg.getvalue())
            item_id = conn.scalar(text("SELECT id FROM items WHERE name = :n"), {"n": item})
            conn.execute(
                text(
                    "INSERT INTO photos (item_id, key, format, width, height, is_primary,"
                    " original_filename) VALUES (:i, :k, :f, :w, :h, true, :o)"
                ),
                {
                    "i": item_id,
                    "k": photo.key,
                    "f": photo.format,
                    "w": photo.width,
                    "h": photo.height,
                    "o": f"{item}.jpg",
                },
            )
            for size, data in (("display", photo.display), ("thumb", photo.thumbnail)):
                name = f"{photo.key}-{size}.{photo.format}"
                pi.photos[name] = data
                if number == 2:  # an older layout: files straight in the folder
                    pi.images.mkdir(parents=True, exist_ok=True)
                    (pi.images / name).write_bytes(data)
                else:
                    store.put(name, data)
    (pi.images / "Thumbs.db").write_bytes(b"not a photo")
    database.close()


# ---- SSH into the "Pi" ----------------------------------------------------------------------


@dataclass
class Ssh:
    port: int
    key: Path
    known_hosts: Path

    def options(self, port: int | None = None) -> list[str]:
        return [
            "--ssh-port",
            str(port or self.port),
            "--ssh-identity",
            str(self.key),
            "--ssh-option",
            f"UserKnownHostsFile={self.known_hosts}",
            "--ssh-option",
            "StrictHostKeyChecking=accept-new",
            "--ssh-option",
            "BatchMode=yes",
            "--ssh-option",
            "IdentitiesOnly=yes",
        ]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ssh]:
    """Debian's sshd on a free loopback port: generated host and client keys, root's key
    authorised in a file of the test's own; no system configuration is touched."""
    require_pi_standin()
    work = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / name)], check=True
        )
    (work / "authorized_keys").write_text((work / "client_key.pub").read_text())
    port = free_port()
    config = work / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {work / 'host_key'}\n"
        f"AuthorizedKeysFile {work / 'authorized_keys'}\nPidFile {work / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\n"
    )
    # sshd insists on its privilege-separation folder (an empty runtime folder).
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = work / "sshd.log"
    with log.open("w") as errors:
        server = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stderr=errors)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert server.poll() is None, log.read_text()
        time.sleep(0.05)
    try:
        yield Ssh(port=port, key=work / "client_key", known_hosts=work / "known_hosts")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


# ---- the target: embedded PostgreSQL 16 --------------------------------------------------


@dataclass
class Target:
    settings: Settings
    env: dict[str, str]
    database_name: str

    def database(self) -> Database:
        return Database(embedded.start(self.settings.data_dir / "postgres", self.database_name))


@pytest.fixture
def target(
    settings: Settings,
    embedder: Embedder,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> Target:
    """A fresh local install on the test server: its own database, photo folder and model
    cache (holding the test model, so search vectors can be made)."""
    name = "pi_" + request.node.name.lower().replace("[", "_").replace("]", "")[:40]
    models = request.config.cache.mkdir("inventory-models")
    cache = tmp_path / "model-cache"
    cache.mkdir()
    (cache / "onnx").symlink_to(models / "onnx")
    target_settings = replace(
        settings,
        postgres_db=name,
        image_dir=tmp_path / "target-images",
        transformers_cache=cache,
        embedding_model=model_path(),
    )
    env = {
        **os.environ,
        "INVENTORY_DATA_DIR": str(settings.data_dir),
        "POSTGRES_DB": name,
        "SECRET_KEY": settings.secret_key,
        "IMAGE_DIR": str(target_settings.images_path),
        "TRANSFORMERS_CACHE": str(cache),
        "EMBEDDING_MODEL": model_path(),
        "HF_HUB_OFFLINE": "1",
    }
    return Target(target_settings, env, name)


def _script(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "bash",
            str(SCRIPT),
            "--target",
            "local",
            "--inventory",
            f"{sys.executable} -m inventory",
            *list(args),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _snapshot(database: Database) -> dict[str, list[Any]]:
    queries = {
        "items": "SELECT asset_id, name, description, custom_fields::text FROM items ORDER BY 1",
        "places": "SELECT id, name, parent_id FROM locations ORDER BY id",
        "tags": "SELECT item_id, tag_id FROM item_tags ORDER BY 1, 2",
        "history": "SELECT item_id, actor_name, action, field FROM item_history ORDER BY id",
        "users": "SELECT username, role::text, password_hash FROM users ORDER BY 1",
        "photos": "SELECT item_id, key, format, is_primary FROM photos ORDER BY id",
    }
    with database.engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(text(sql))] for name, sql in queries.items()
        }


# ---- the tests ----------------------------------------------------------------------------


def test_migrate_over_ssh_into_an_embedded_install(
    pi: Pi, sshd: Ssh, target: Target, embedder: Embedder, tmp_path: Path
) -> None:
    env_out = tmp_path / "stack.env"
    started = time.monotonic()
    result = _script(
        target.env,
        *sshd.options(),
        "--pi-images",
        str(pi.images),
        "--pi-ml-cache",
        str(pi.ml_cache),
        "--pi-env",
        str(pi.env_file),
        "--env-out",
        str(env_out),
        "root@127.0.0.1",
    )
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    print(f"migrate-from-pi.sh over SSH: {took:.1f} s")

    # The comparison people read: every count the same on both sides.
    table = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line}
    expected = {"items": 8, "locations": 7, "tags": 4, "photos": 3, "users": 2, "history": 16}
    for name, count in expected.items():
        assert table[name] == [str(count), str(count), "ok"], result.stdout
    assert "Pi: PostgreSQL 15." in result.stdout
    assert "photo files: 6 of 6 in place" in result.stdout
    assert "embedded 8 item(s)" in result.stdout
    assert "not photo files of this app" in result.stdout  # Thumbs.db was left out

    # The Pi's rows, unchanged, on the current schema.
    database = target.database()
    try:
        assert migrate.is_current(database.engine)
        on_pi = Database(pi.url())
        try:
            assert _snapshot(database) == _snapshot(on_pi)
        finally:
            on_pi.close()
        _check_served_and_searchable(pi, target, database, embedder)
    finally:
        database.close()

    # The model cache came over without replacing what the target had.
    assert (target.settings.model_cache / "sentence_transformers" / "config.json").is_file()
    assert (target.settings.model_cache / "onnx").is_symlink()

    # The stack's .env: the postgres service, the container's paths, the Pi's secrets kept
    # (and never shown).
    converted = dict(
        line.split("=", 1)
        for line in env_out.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert converted["POSTGRES_HOST"] == "postgres"
    assert converted["POSTGRES_PORT"] == "5432"
    assert converted["IMAGE_DIR"] == "/var/lib/inventory/images"
    assert converted["TRANSFORMERS_CACHE"] == converted["HF_HOME"] == "/var/lib/inventory/ml_cache"
    assert converted["POSTGRES_PASSWORD"] == PI_PASSWORD
    assert converted["SECRET_KEY"] == PI_SECRET
    assert converted["RELEASE_CANDIDATE"] == "RC8"
    assert converted["CF_WORKER_URL"] == "https://register.nestdb.io"
    assert env_out.stat().st_mode & 0o777 == 0o600
    assert PI_PASSWORD not in output
    assert PI_SECRET not in output


def _check_served_and_searchable(
    pi: Pi, target: Target, database: Database, embedder: Embedder
) -> None:
    app = create_app(target.settings, database, embedder)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {pi.token}"}  # the token made on the Pi still works
    for name, data in pi.photos.items():
        served = client.get(f"/images/{name}", headers=auth)
        served.get_data()  # buffer the body, then release the file it was streamed from
        served.close()
        assert served.status_code == 200, name
        assert served.data == data  # byte-identical
    found = client.get("/api/v1/search?q=warm bag for camping&limit=3", headers=auth).json
    assert found["results"][0]["item"]["name"] == "Winter sleeping bag", found
    assert found["results"][0]["location_path"] == "Home › Loft"
    with database.session() as session:  # the Pi's password signs in
        accounts.sign_in(
            session=session, username="pi-admin", password=ADMIN_PASSWORD, address="127.0.0.1"
        )


def test_migrate_from_local_files_and_refuse_a_second_time_without_force(
    pi: Pi, target: Target, tmp_path: Path
) -> None:
    dump = pi.dump(tmp_path / "pi.dump", "inventory_db", "-Fc")
    files = ["--dump", str(dump), "--images", str(pi.images), "--env", str(pi.env_file)]
    first = _script(target.env, *files, "--no-reindex", "--env-out", str(tmp_path / ".env"))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "counts match" in first.stdout
    assert "photo files: 6 of 6 in place" in first.stdout
    for name, data in pi.photos.items():
        stored = FilesystemStore(target.settings.images_path).path(name)
        assert stored.read_bytes() == data

    # Data is there now: a second run is refused, and the existing .env is kept.
    again = _script(target.env, *files, "--env-out", str(tmp_path / ".env"))
    assert again.returncode == 2
    assert "already has data" in again.stderr
    assert "--force" in again.stderr
    assert (tmp_path / ".env.from-pi").is_file()

    forced = _script(target.env, *files, "--force", "--no-reindex")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "backed up in" in forced.stdout
    kept = list((target.settings.data_dir / "backups").glob("inventory-backup-*.tar"))
    assert kept


def test_bad_input_is_named(pi: Pi, target: Target, sshd: Ssh, tmp_path: Path) -> None:
    # An SSH host that does not answer.
    closed = free_port()
    unreachable = _script(target.env, *sshd.options(port=closed), "root@127.0.0.1")
    assert unreachable.returncode == 2
    assert "cannot reach root@127.0.0.1 over SSH" in unreachable.stderr

    # No dump where one was promised.
    missing = _script(target.env, "--dump", str(tmp_path / "nope.dump"))
    assert missing.returncode == 2
    assert f"the dump {tmp_path / 'nope.dump'} does not exist" in missing.stderr

    # A plain SQL dump (pg_dump without -Fc, as the old plan did it).
    plain = pi.dump(tmp_path / "pi.sql", "inventory_db")
    refused = _script(target.env, "--dump", str(plain))
    assert refused.returncode == 2
    assert "is a plain SQL dump; make it with pg_dump -Fc" in refused.stderr

    # A dump from a newer pg_dump than our pg_restore reads (format version raised in the
    # header, as PostgreSQL 17's pg_dump writes it).
    newer = bytearray(pi.dump(tmp_path / "pi.dump", "inventory_db", "-Fc").read_bytes())
    newer[6] = 99  # PGDMP, major 1, minor 99
    (tmp_path / "newer.dump").write_bytes(newer)
    too_new = _script(target.env, "--dump", str(tmp_path / "newer.dump"))
    assert too_new.returncode == 2
    assert "newer pg_dump than this PostgreSQL 16 pg_restore can read" in too_new.stderr

    # A database that is not this app's.
    pi.psql("CREATE DATABASE other_app OWNER inventory")
    pi.psql(
        "CREATE TABLE things (id int); INSERT INTO things VALUES (1);"
        " ALTER TABLE things OWNER TO inventory",
        "other_app",
    )
    other = pi.dump(tmp_path / "other.dump", "other_app", "-Fc")
    not_ours = _script(target.env, "--dump", str(other))
    assert not_ours.returncode == 2
    assert "not a database of this app" in not_ours.stderr

    # A target PostgreSQL without pgvector (the Pi's own PostgreSQL 15 as the target).
    pi.psql("CREATE DATABASE no_vector OWNER inventory")
    dump = pi.dump(tmp_path / "pi.dump", "inventory_db", "-Fc")
    env = target.env | {
        "POSTGRES_HOST": "127.0.0.1",
        "POSTGRES_PORT": str(pi.port),
        "POSTGRES_USER": "inventory",
        "POSTGRES_PASSWORD": PI_PASSWORD,
        "POSTGRES_DB": "no_vector",
    }
    no_vector = _script(env, "--dump", str(dump))
    assert no_vector.returncode == 2
    assert "has no pgvector extension" in no_vector.stderr
    assert pi.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", "no_vector") == (
        "0\n"
    )


def test_env_conversion_keeps_secrets_and_quotes_what_compose_would_misread() -> None:
    from inventory.operations import pi_env

    pairs = pi_env.parse(
        "export POSTGRES_HOST=127.0.0.1\n"
        "POSTGRES_PASSWORD='p@ss $HOME word'  \n"
        "SECRET_KEY=change-me # the shipped placeholder\n"
        "IMAGE_DIR=/srv/photos\n"
        "CF_DEVICE_CERT_PATH=/etc/inventory/device.crt\n"
    )
    converted = pi_env.convert(pairs)
    values = dict(converted.pairs)
    assert values["POSTGRES_HOST"] == "postgres"
    assert values["POSTGRES_PASSWORD"] == "p@ss $HOME word"
    assert values["SECRET_KEY"] != "change-me"
    assert len(values["SECRET_KEY"]) >= 32
    assert values["IMAGE_DIR"] == "/var/lib/inventory/images"
    assert values["CF_DEVICE_CERT_PATH"] == "/var/lib/inventory/config/device.crt"
    rendered = pi_env.render(converted)
    assert "POSTGRES_PASSWORD='p@ss $HOME word'\n" in rendered  # literal in Compose
    assert pi_env.parse(rendered) == converted.pairs  # reads back the same
    shown = "\n".join(pi_env.describe(converted) + converted.notes)
    assert "p@ss" not in shown
    assert values["SECRET_KEY"] not in shown
    assert any("SECRET_KEY" in note for note in converted.notes)
    with pytest.raises(pi_env.EnvError, match="line 2"):
        pi_env.parse("A=1\nthis is not a setting\n")


def test_vectors_made_by_another_model_are_redone(
    settings: Settings, target: Target, embedder: Embedder, tmp_path: Path
) -> None:
    """A Pi on a later release (search tables there) whose vectors came from another model:
    the migration makes them again with this installation's model."""
    from inventory.operations import pgtools, pi_migration

    source = Database(embedded.start(settings.data_dir / "postgres", "pi_source_other_model"))
    try:
        with source.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        migrate.upgrade(source.engine)
        with source.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO items (asset_id, name) VALUES ('1', 'Head torch'), ('2', 'Kettle')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO item_embeddings (item_id, embedding, model, text_hash) "
                    "SELECT id, array_fill(0.1, ARRAY[384])::vector, 'old-model', 'x' FROM items"
                )
            )
            conn.execute(
                text("INSERT INTO embedding_index (model, dimension) VALUES ('old-model', 384)")
            )
        staging = tmp_path / "staging"
        staging.mkdir()
        pgtools.run_tool(
            [pgtools.pg_tool("pg_dump"), "-Fc", f"--file={staging / 'database.dump'}"], source
        )
    finally:
        source.close()
    database = target.database()
    try:
        report = pi_migration.migrate_from_pi(
            settings=target.settings,
            database=database,
            staging=staging,
            load_embedder=lambda: embedder,
        )
        assert report.matches
        assert report.embedded == 2
        with database.engine.connect() as conn:
            models = conn.execute(text("SELECT DISTINCT model FROM item_embeddings")).scalars()
            assert list(models) == [embedder.model]
    finally:
        database.close()
