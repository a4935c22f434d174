"""Imports from other tools and spreadsheets: Homebox (its own fixtures, a full export, a
backup zip with photos), Snipe-IT, Grocy, XLSX with a remembered column mapping; previews
that show only what changes and take no asset numbers; background jobs with progress."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import Workbook
from PIL import Image
from sqlalchemy import text

from inventory.db.session import Database
from tests.conftest import ApiClient

HOMEBOX = Path(__file__).parent.parent / "data" / "homebox"


def _import(
    client: ApiClient, data: bytes, name: str = "items.csv", dry_run: bool = False, **form: str
) -> Any:
    return client.post(
        "/api/v1/transfer/import",
        query_string={"dry_run": str(dry_run).lower()},
        data={"file": (io.BytesIO(data), name), **form},
        content_type="multipart/form-data",
    )


def _runner(app: Flask) -> Any:
    return app.extensions["inventory.jobs"]


def _result(app: Flask, client: ApiClient, response: Any) -> dict[str, Any]:
    """The report of a finished import, whether it ran in the request or as a job."""
    if response.status_code == 200:
        return dict(response.json)
    assert response.status_code == 202, response.json
    assert _runner(app).wait_idle(300)
    job = client.get(response.headers["Location"]).json
    assert job["status"] == "done", job
    return dict(job["result"])


def _items(client: ApiClient) -> dict[str, dict[str, Any]]:
    page = client.get("/api/v1/items", query_string={"archived": "all", "per_page": 100}).json
    return {item["name"]: item for item in page["items"]}


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    return {field["name"]: field["value"] for field in item["custom_fields"]}


# ---- Homebox --------------------------------------------------------------------------------


def test_homebox_minimal_fixture(app: Flask, admin: ApiClient) -> None:
    report = _result(app, admin, _import(admin, (HOMEBOX / "minimal.csv").read_bytes()))
    assert (report["format"], report["created"]) == ("homebox", 3)
    items = _items(admin)
    assert {
        name: (i["quantity"], i["description"], i["location_path"]) for name, i in items.items()
    } == {
        "Item 1": (1, "Description 1", "loc"),
        "Item 2": (2, "Description 2", "loc"),
        "Item 3": (3, "Description 3", "loc"),
    }


def test_homebox_custom_fields_fixture(app: Flask, admin: ApiClient) -> None:
    _result(app, admin, _import(admin, (HOMEBOX / "fields.csv").read_bytes()))
    item = _items(admin)["Item 2"]
    assert item["custom_fields"] == [
        {"name": f"Custom Field {n}", "type": "text", "value": f"Value 2[{n}]"} for n in (1, 2, 3)
    ]


def test_homebox_types_fixture_paths_tags_and_asset_ids(app: Flask, admin: ApiClient) -> None:
    _result(app, admin, _import(admin, (HOMEBOX / "types.csv").read_bytes()))
    items = _items(admin)
    assert {name: item["asset_id"] for name, item in items.items()} == {
        "Item 1": "000-001",
        "Item 2": "000-002",
        "Item 3": "1000-003",
    }
    assert items["Item 2"]["location_path"] == "Path › To › Location 2"
    assert items["Item 3"]["location_path"] == "Path › To › Location 3"
    assert all(item["tags"] == ["L1", "L2", "L3"] for item in items.values())
    # Numbering goes on after the highest imported asset ID.
    assert admin.post("/api/v1/items", json={"name": "Next"}).json["asset_id"] == "1000-004"


def test_homebox_full_export_every_column(app: Flask, admin: ApiClient) -> None:
    data = (HOMEBOX / "full_export.csv").read_bytes()
    report = _result(app, admin, _import(admin, data))
    assert (report["created"], report["errors"], report["ignored_columns"]) == (4, [], [])
    items = _items(admin)
    drill = items["Akku-Bohrschrauber 18 V"]
    assert drill["location_path"] == "Zuhause › Garage › Werkbank"
    assert drill["tags"] == ["Elektro", "Werkzeug"]
    assert (drill["manufacturer"], drill["model"], drill["serial_number"]) == (
        "Bosch",
        "GSR 18V-55",
        "4059952531234",
    )
    assert (drill["purchase_date"], drill["purchase_price"], drill["vendor"]) == (
        "2023-04-17",
        129.99,
        "Bauhaus Köln",
    )
    assert drill["warranty_expires"] == "2026-04-17"
    assert _fields(drill) == {
        "Colour": "Blau",
        "Voltage": "18",
        "Insured": True,
        "Warranty details": "3 Jahre Garantie bei Registrierung",
        "Homebox link": "https://homebox.example/item/0e8a4c6e-1f7a-4a59-9a6c-2f1c4e8b7d10",
    }
    laptop = items["Old laptop, ThinkPad X230"]
    assert laptop["archived"] is True
    assert _fields(laptop)["Sold to"] == "Jana Nováková"
    assert _fields(laptop)["Sold on"] == "2024-06-30"
    assert _fields(laptop)["Sold for"] == 120
    batteries = items["AA batteries"]
    assert (batteries["quantity"], batteries["purchase_price"]) == (24, None)
    assert _fields(batteries)["Low stock threshold"] == 8
    charger = items["Battery charger"]
    assert _fields(charger)["Inside"] == "AA batteries"
    assert _fields(charger)["Lifetime warranty"] is True


def test_homebox_reimport_updates_by_import_ref_field_by_field(
    app: Flask, admin: ApiClient
) -> None:
    data = (HOMEBOX / "full_export.csv").read_bytes()
    _result(app, admin, _import(admin, data))
    again = _result(app, admin, _import(admin, data, dry_run=True))
    assert (again["created"], again["updated"], again["unchanged"], again["rows"]) == (0, 0, 4, [])
    changed = data.replace(b",24,8,", b",20,8,").replace(b"Regal 2,Elektro", b"Regal 3,Elektro")
    preview = _result(app, admin, _import(admin, changed, dry_run=True))
    assert (preview["created"], preview["updated"], preview["unchanged"]) == (0, 2, 2)
    by_name = {row["name"]: row["changes"] for row in preview["rows"]}
    assert by_name["AA batteries"] == [{"field": "quantity", "old": 24, "new": 20}]
    assert by_name["Battery charger"] == [
        {
            "field": "location",
            "old": "Zuhause › Keller › Regal 2",
            "new": "Zuhause › Keller › Regal 3",
        }
    ]
    assert preview["new_locations"] == ["Zuhause › Keller › Regal 3"]
    assert _items(admin)["AA batteries"]["quantity"] == 24  # a preview changes nothing
    _result(app, admin, _import(admin, changed))
    assert _items(admin)["AA batteries"]["quantity"] == 20
    history = admin.get(f"/api/v1/items/{_items(admin)['AA batteries']['id']}/history").json
    assert any(entry.get("field") == "quantity" for entry in history)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        *((word, True) for word in ("1", "t", "T", "TRUE", "true", "True")),
        *((word, False) for word in ("0", "f", "F", "FALSE", "false", "False", "")),
    ],
)
def test_homebox_booleans_as_go_parses_them(
    app: Flask, admin: ApiClient, cell: str, expected: bool
) -> None:
    _result(app, admin, _import(admin, f"HB.name,HB.archived\nLamp,{cell}\n".encode()))
    assert _items(admin)["Lamp"]["archived"] is expected


def test_homebox_dates_in_its_three_layouts_and_bad_cells_named(
    app: Flask, admin: ApiClient
) -> None:
    data = "HB.name,HB.purchase_date\nA,2006-01-02\nB,01/02/2006\nC,2006/01/02\n"
    _result(app, admin, _import(admin, data.encode()))
    assert {i["purchase_date"] for i in _items(admin).values()} == {"2006-01-02"}
    bad = _import(admin, b"HB.name,HB.purchase_date,HB.insured\nD,2.1.2006,yes\n")
    assert bad.status_code == 422
    errors = {(e["line"], e["field"]) for e in bad.json["report"]["errors"]}
    assert errors == {(2, "HB.purchase_date"), (2, "HB.insured")}
    assert "2006-01-02" in bad.json["report"]["errors"][0]["message"]


def _photo(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def _backup() -> bytes:
    """A Homebox backup zip as service_exports.go writes it: one JSON file per table."""
    tables: dict[str, Any] = {
        "entity_types": [
            {"id": "t-item", "name": "Item", "is_location": False},
            {"id": "t-loc", "name": "Location", "is_location": True},
        ],
        "entities": [
            {"id": "home", "name": "Home", "entity_type_entities": "t-loc"},
            {
                "id": "shed",
                "name": "Shed",
                "entity_children": "home",
                "entity_type_entities": "t-loc",
            },
            {
                "id": "mower",
                "name": "Lawn mower",
                "description": "Petrol",
                "entity_children": "shed",
                "entity_type_entities": "t-item",
                "import_ref": "mow1",
                "asset_id": 7,
                "quantity": 1,
                "insured": True,
                "purchase_time": "2022-03-04T00:00:00Z",
                "warranty_expires": "0001-01-01T00:00:00Z",
                "purchase_price": 299.0,
                "manufacturer": "Honda",
                "archived": False,
            },
            {
                "id": "key",
                "name": "Mower key",
                "entity_children": "mower",
                "entity_type_entities": "t-item",
                "quantity": 2,
            },
        ],
        "entity_fields": [
            {
                "id": "f1",
                "name": "Blade",
                "type": "text",
                "text_value": "46 cm",
                "entity_fields": "mower",
            },
            {
                "id": "f2",
                "name": "Stroke",
                "type": "number",
                "number_value": 4,
                "entity_fields": "mower",
            },
        ],
        "tags": [{"id": "g1", "name": "Garden"}],
        "tag_entities": [{"tag_id": "g1", "entity_id": "mower"}],
        "attachments": [
            {
                "id": "a1",
                "type": "photo",
                "primary": True,
                "title": "front.jpg",
                "entity_attachments": "mower",
            },
            {
                "id": "a2",
                "type": "photo",
                "primary": False,
                "title": "side.jpg",
                "entity_attachments": "mower",
            },
            {"id": "a3", "type": "manual", "title": "manual.pdf", "entity_attachments": "mower"},
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, rows in tables.items():
            archive.writestr(f"{name}.json", json.dumps(rows))
        archive.writestr("attachments/a1", _photo((200, 30, 30)))
        archive.writestr("attachments/a2", _photo((30, 200, 30)))
        archive.writestr("attachments/a3", b"%PDF-1.4 not really")
        archive.writestr("manifest.json", json.dumps({"schemaVersion": 1, "counts": {}}))
    return buffer.getvalue()


def test_homebox_backup_zip_with_photos(app: Flask, admin: ApiClient) -> None:
    response = _import(admin, _backup(), name="homebox-export.zip")
    assert response.status_code == 202  # photos: always a job
    report = _result(app, admin, response)
    assert (report["format"], report["created"]) == ("homebox-backup", 2)
    assert any("1 attachment" in note for note in report["notes"])
    items = _items(admin)
    mower = items["Lawn mower"]
    assert (mower["asset_id"], mower["location_path"], mower["tags"]) == (
        "000-007",
        "Home › Shed",
        ["Garden"],
    )
    assert (mower["purchase_date"], mower["warranty_expires"], mower["purchase_price"]) == (
        "2022-03-04",
        None,
        299,
    )
    assert _fields(mower) == {"Blade": "46 cm", "Stroke": 4, "Insured": True}
    assert [photo["is_primary"] for photo in mower["photos"]] == [True, False]
    image = admin.get(mower["photos"][0]["url"])
    assert image.status_code == 200
    image.close()
    key = items["Mower key"]
    assert (key["location_path"], _fields(key)["Inside"], key["quantity"]) == (
        "Home › Shed",
        "Lawn mower",
        2,
    )


# ---- Snipe-IT and Grocy --------------------------------------------------------------------


def test_snipeit_custom_asset_report(app: Flask, admin: ApiClient) -> None:
    data = (
        "Company,Asset Name,Asset Tag,Model,Model No.,Category,Manufacturer,Serial,Purchased,"
        "Cost,EOL,Warranty,Warranty Expires,Order Number,Supplier,Location,Status,Notes,RAM\n"
        "Acme,Finance laptop,LAP-0042,Latitude 5440,5440,Laptops,Dell,SN123,2024-02-01,"
        '"1,249.00",2028-02-01,36,2027-02-01,PO-77,Dell Direct,HQ / Floor 2,Deployed,'
        "Spare charger,16 GB\n"
        ",,MON-7,P2422H,P2422H,Monitors,Dell,SN9,,,,,,,,Storage,Ready to Deploy,,\n"
    )
    report = _result(app, admin, _import(admin, data.encode()))
    assert (report["format"], report["created"]) == ("snipeit", 2)
    items = _items(admin)
    laptop = items["Finance laptop"]
    assert (laptop["model"], laptop["serial_number"], laptop["purchase_price"]) == (
        "5440",
        "SN123",
        1249,
    )
    assert (laptop["warranty_expires"], laptop["vendor"], laptop["location_path"]) == (
        "2027-02-01",
        "Dell Direct",
        "HQ - Floor 2",
    )
    assert laptop["tags"] == ["Laptops"]
    assert _fields(laptop) == {
        "Snipe-IT asset tag": "LAP-0042",
        "Company": "Acme",
        "End of life": "2028-02-01",
        "Order number": "PO-77",
        "Status": "Deployed",
        "RAM": "16 GB",
    }
    assert "P2422H" in items  # no asset name: the model names it
    again = _result(app, admin, _import(admin, data.encode(), dry_run=True))
    assert (again["created"], again["unchanged"]) == (0, 2)


def test_grocy_api_export_items_places_quantities(app: Flask, admin: ApiClient) -> None:
    export = {
        "products": [
            {
                "id": 1,
                "name": "Spaghetti",
                "location_id": 2,
                "qu_id_stock": 3,
                "product_group_id": 1,
                "min_stock_amount": 2,
            },
            {
                "id": 2,
                "name": "Tomato sauce",
                "location_id": 2,
                "qu_id_stock": 4,
                "product_group_id": 1,
            },
            {"id": 3, "name": "Ice cream", "location_id": 5, "qu_id_stock": 4},
        ],
        "locations": [
            {"id": 2, "name": "Pantry"},
            {"id": 5, "name": "Freezer"},
            {"id": 6, "name": "Cellar"},
        ],
        "quantity_units": [{"id": 3, "name": "pack"}, {"id": 4, "name": "jar"}],
        "product_groups": [{"id": 1, "name": "Pasta & sauces"}],
        "stock_entries": [
            {"product_id": 1, "amount": 3, "location_id": 2, "best_before_date": "2027-05-01"},
            {"product_id": 1, "amount": 2, "location_id": 2, "best_before_date": "2026-11-01"},
            {"product_id": 1, "amount": 4, "location_id": 6, "best_before_date": "2999-12-31"},
            {"product_id": 2, "amount": 1.5, "location_id": 2},
        ],
    }
    report = _result(app, admin, _import(admin, json.dumps(export).encode(), name="grocy.json"))
    assert (report["format"], report["created"]) == ("grocy", 4)
    page = admin.get("/api/v1/items", query_string={"per_page": 100}).json["items"]
    found = {(i["name"], i["location_path"]): (i["quantity"], i["unit"]) for i in page}
    assert found == {
        ("Spaghetti", "Pantry"): (5, "pack"),
        ("Spaghetti", "Cellar"): (4, "pack"),
        ("Tomato sauce", "Pantry"): (1.5, "jar"),
        ("Ice cream", "Freezer"): (0, "jar"),
    }
    pantry = next(i for i in page if i["name"] == "Spaghetti" and i["location_path"] == "Pantry")
    assert _fields(pantry) == {"Best before": "2026-11-01", "Minimum stock": 2}
    assert pantry["tags"] == ["Pasta & sauces"]


# ---- spreadsheets with a column mapping -----------------------------------------------------


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_needs_a_mapping_then_remembers_it(app: Flask, admin: ApiClient) -> None:
    data = _xlsx(
        [
            ["Ding", "Anzahl", "Ort", "Gekauft", "Kaputt", "Farbe"],
            ["Zelt", 2, "Keller/Regal", date(2021, 7, 1), False, "grün"],
            ["Kocher", 1, "Keller", "03/15/2020", "1", ""],
        ]
    )
    asked = _import(admin, data, name="sachen.xlsx")
    assert asked.status_code == 422
    assert "mapping" in asked.json["errors"]
    mapping = {
        "Ding": "name",
        "Anzahl": "quantity",
        "Ort": "location",
        "Gekauft": "purchase_date",
        "Kaputt": "archived",
        "Farbe": "custom_field",
    }
    report = _result(
        app, admin, _import(admin, data, name="sachen.xlsx", mapping=json.dumps(mapping))
    )
    assert (report["format"], report["created"]) == ("spreadsheet", 2)
    items = _items(admin)
    assert (items["Zelt"]["quantity"], items["Zelt"]["location_path"]) == (2, "Keller › Regal")
    assert items["Zelt"]["purchase_date"] == "2021-07-01"
    assert _fields(items["Zelt"]) == {"Farbe": "grün"}
    assert (items["Kocher"]["purchase_date"], items["Kocher"]["archived"]) == ("2020-03-15", True)
    # The same columns in another order: the remembered mapping applies, no question asked.
    reordered = _xlsx(
        [["Ort", "Ding", "Farbe", "Anzahl", "Gekauft", "Kaputt"], ["Bad", "Föhn", "", 1, "", "0"]]
    )
    assert _result(app, admin, _import(admin, reordered, name="mehr.xlsx"))["created"] == 1


def test_mapping_that_does_not_fit_is_refused_by_column(admin: ApiClient) -> None:
    data = b"Thing,Where\nTent,Loft\n"
    response = _import(admin, data, mapping=json.dumps({"Thing": "colour", "Where": "location"}))
    assert response.status_code == 422
    assert "'Thing'" in response.json["detail"]
    assert "map one column to the name" in response.json["detail"]


# ---- asset IDs, previews and jobs -----------------------------------------------------------


def test_dry_runs_take_no_asset_ids_and_preview_matches_apply(
    app: Flask, admin: ApiClient, database: Database
) -> None:
    for name in ("One", "Two"):
        admin.post("/api/v1/items", json={"name": name})
    data = "name,location\n" + "".join(f"New {n},Shed\n" for n in range(30))
    previews = [_result(app, admin, _import(admin, data.encode(), dry_run=True)) for _ in range(3)]
    shown = [row["asset_id"] for row in previews[0]["rows"]]
    assert shown == [f"000-{n:03d}" for n in range(3, 33)]
    assert all([row["asset_id"] for row in p["rows"]] == shown for p in previews)
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT last_value FROM item_asset_seq")).scalar() == 2
    applied = _result(app, admin, _import(admin, data.encode()))
    assert [row["asset_id"] for row in applied["rows"]] == shown
    made = {item["asset_id"] for item in _items(admin).values() if item["name"].startswith("New")}
    assert made == set(shown)
    assert admin.post("/api/v1/items", json={"name": "After"}).json["asset_id"] == "000-033"


def test_large_import_is_a_job_with_progress_that_lands_whole(
    app: Flask, admin: ApiClient, database: Database
) -> None:
    rows = "".join(
        f"Box {n:05d},{n % 7 + 1},Lager/Regal {n % 40},kiste;lager\n" for n in range(2000)
    )
    data = ("name,quantity,location,tags\n" + rows).encode()
    response = _import(admin, data, dry_run=True)
    assert response.status_code == 202
    assert response.headers["Location"].startswith("/api/v1/jobs/")
    assert response.json["status"] in ("queued", "running", "done")
    preview = _result(app, admin, response)
    assert admin.get("/api/v1/items").json["total"] == 0
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    applied = admin.post(f"/api/v1/transfer/import/{job_id}/apply")
    assert applied.status_code == 202
    report = _result(app, admin, applied)
    assert report["created"] == 2000
    assert [row["asset_id"] for row in report["rows"]] == [
        row["asset_id"] for row in preview["rows"]
    ]
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 2000
        history = conn.execute(text("SELECT count(*) FROM item_history WHERE action = 'created'"))
        assert history.scalar() == 2000


def test_jobs_are_readable_only_by_their_owner_and_admins(
    app: Flask, make_api: Any, admin: ApiClient
) -> None:
    owner = make_api("editor", "owner")
    other = make_api("editor", "other")
    data = ("name\n" + "".join(f"Thing {n}\n" for n in range(300))).encode()
    response = _import(owner, data, dry_run=True)
    assert response.status_code == 202
    location = response.headers["Location"]
    assert other.get(location).status_code == 404
    assert admin.get(location).status_code == 200
    assert owner.get(location).status_code == 200
    job_id = int(location.rsplit("/", 1)[1])
    _runner(app).wait_idle(120)
    assert other.post(f"/api/v1/transfer/import/{job_id}/apply").status_code == 404


def test_a_failed_job_lists_the_bad_lines_and_applies_nothing(app: Flask, admin: ApiClient) -> None:
    rows = "".join(f"Item {n},{-1 if n in (17, 250) else 1}\n" for n in range(400))
    response = _import(admin, ("name,quantity\n" + rows).encode())
    assert response.status_code == 202
    _runner(app).wait_idle(120)
    job = admin.get(response.headers["Location"]).json
    assert job["status"] == "failed"
    assert [(e["line"], e["field"]) for e in job["errors"]] == [(19, "quantity"), (252, "quantity")]
    assert admin.get("/api/v1/items").json["total"] == 0
