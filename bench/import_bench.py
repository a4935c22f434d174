"""Import benchmark: rows/s for a preview and an apply, of new rows and of unchanged rows (a
re-import of the export), at 2,000 and 20,000 rows, on a fresh embedded database. The
baseline, measured in the same run, is the previous importer's way: one item service call
per row in a savepoint (history snapshots and a location-tree load per row).

    .venv/bin/python bench/import_bench.py [--sizes 2000 20000] [--baseline-rows 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from inventory import imports
from inventory.catalog import item_queries
from inventory.catalog import items as item_service
from inventory.catalog.fields import ItemImportSchema
from inventory.catalog.transfer import export_csv
from inventory.db import migrate
from inventory.db.session import Database, open_database
from inventory.imports.native import row_input
from inventory.imports.tables import decode, read_csv
from inventory.settings import Settings

THINGS = ["drill", "tent", "lamp", "kettle", "ladder", "sleeping bag", "router", "blanket"]
PLACES = ["Home/Garage/Shelf 1", "Home/Attic/Box A", "Home/Kitchen", "Storage/Rack 3"]


def _csv(rows: int) -> bytes:
    lines = ["name,quantity,location,tags,manufacturer,purchase_date,purchase_price,notes"]
    for n in range(rows):
        lines.append(
            f"{THINGS[n % len(THINGS)]} {n},{n % 9 + 1},{PLACES[n % len(PLACES)]}/Bin {n % 50},"
            f'"t{n % 20}, moving",Acme,2024-0{n % 9 + 1}-1{n % 9},{n % 300}.50,note {n}'
        )
    return ("\n".join(lines) + "\n").encode()


def _timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _empty(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("TRUNCATE items, locations, tags, item_history RESTART IDENTITY CASCADE"))
        conn.execute(text("ALTER SEQUENCE item_asset_seq RESTART"))


def _run(database: Database, data: bytes, dry_run: bool) -> imports.ImportReport:
    with database.session() as session:
        source = imports.read_file(data=data, session=session)
        report = imports.import_now(session=session, source=source, actor=None, dry_run=dry_run)
    assert not report.errors, report.errors[:3]
    return report


def _export(database: Database) -> bytes:
    with database.session() as session:
        return "".join(export_csv(session=session)).encode()


def _baseline_preview(database: Database, data: bytes) -> None:
    """The previous importer: per row, a schema load, a lookup and update_item in a savepoint."""
    header, rows = read_csv(decode(data))
    schema = ItemImportSchema()
    with database.session() as session:
        for _, row in rows:
            fields = schema.load(row_input(row, header))
            asset_id = fields.pop("asset_id")
            item = item_queries.find_by_asset_id(session=session, asset_id=asset_id)
            assert item is not None
            with session.begin_nested():
                item_service.update_item(
                    session=session, item_id=item.id, data=fields, actor=None, commit=False
                )
        session.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--baseline-rows", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench-" + "x" * 40)
        database = open_database(settings)
        migrate.upgrade(database.engine)
        print(f"{'rows':>7} {'what':<26} {'seconds':>8} {'rows/s':>9}")
        figures: dict[tuple[int, str], float] = {}
        for size in args.sizes:
            _empty(database)
            new = _csv(size)
            for what, work in (
                ("preview, new rows", lambda data=new: _run(database, data, True)),
                ("apply, new rows", lambda data=new: _run(database, data, False)),
            ):
                seconds = _timed(work)
                figures[(size, what)] = size / seconds
                print(f"{size:>7} {what:<26} {seconds:>8.2f} {size / seconds:>9.0f}")
            exported = _export(database)
            for what, work in (
                ("preview, unchanged rows", lambda data=exported: _run(database, data, True)),
                ("apply, unchanged rows", lambda data=exported: _run(database, data, False)),
            ):
                seconds = _timed(work)
                figures[(size, what)] = size / seconds
                print(f"{size:>7} {what:<26} {seconds:>8.2f} {size / seconds:>9.0f}")
        _empty(database)
        rows = args.baseline_rows
        _run(database, _csv(rows), False)
        seconds = _timed(lambda: _baseline_preview(database, _export(database)))
        baseline = rows / seconds
        print(f"{rows:>7} {'baseline: per-row preview':<26} {seconds:>8.2f} {baseline:>9.0f}")
        for size in args.sizes:
            ratio = figures[(size, "preview, unchanged rows")] / baseline
            print(f"preview of {size} unchanged rows: {ratio:.0f}× the per-row baseline")
        database.close()


if __name__ == "__main__":
    main()
