"""CSV export and import: round trip, dry run, all-or-nothing with every bad line reported."""

import csv
import io
from typing import Any

from sqlalchemy import text

from tests.conftest import ApiClient

FIELDS_TO_COMPARE = (
    "asset_id",
    "name",
    "description",
    "quantity",
    "unit",
    "location_path",
    "tags",
    "custom_fields",
    "manufacturer",
    "model",
    "serial_number",
    "purchase_date",
    "purchase_price",
    "currency",
    "vendor",
    "warranty_expires",
    "notes",
    "archived",
)


def _export(client: ApiClient) -> bytes:
    response = client.get("/api/v1/transfer/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    data: bytes = response.get_data()
    response.close()
    return data


def _import(client: ApiClient, data: bytes, dry_run: bool = False) -> Any:
    return client.post(
        "/api/v1/transfer/import",
        query_string={"dry_run": str(dry_run).lower()},
        data={"file": (io.BytesIO(data), "items.csv")},
        content_type="multipart/form-data",
    )


def _snapshot(client: ApiClient) -> list[dict[str, Any]]:
    items = client.get("/api/v1/items", query_string={"archived": "all", "sort": "asset_id"})
    return [{key: item[key] for key in FIELDS_TO_COMPARE} for item in items.json["items"]]


def _seed(client: ApiClient) -> None:
    client.post(
        "/api/v1/items",
        json={
            "name": "Drill, cordless",
            "description": 'Says "DeWalt"\non two lines',
            "quantity": 1.5,
            "unit": "kg",
            "location": "Home/Garage/Shelf 3",
            "tags": ["tools", "Power"],
            "custom_fields": [
                {"name": "Volt", "type": "number", "value": 20},
                {"name": "Cordless", "type": "boolean", "value": True},
            ],
            "manufacturer": "DeWalt",
            "purchase_date": "2024-05-01",
            "purchase_price": 99.5,
            "currency": "EUR",
            "warranty_expires": "2027-05-01",
            "notes": "ünïcödé ✓",
        },
    )
    client.post("/api/v1/items", json={"name": "Old lamp", "archived": True})
    client.post("/api/v1/items", json={"name": "Tent", "location": "Loft"})


def test_round_trip_into_an_empty_database(admin: ApiClient, database: Any) -> None:
    _seed(admin)
    before = _snapshot(admin)
    exported = _export(admin)
    assert exported.startswith(b"asset_id,name,")
    with database.engine.begin() as conn:
        conn.execute(text("TRUNCATE items, locations, tags, item_history RESTART IDENTITY CASCADE"))
        conn.execute(text("ALTER SEQUENCE item_asset_seq RESTART"))
    response = _import(admin, exported)
    assert response.status_code == 200, response.json
    assert response.json["created"] == 3
    assert _snapshot(admin) == before
    new = admin.post("/api/v1/items", json={"name": "After import"}).json
    assert new["asset_id"] == "000-004"  # numbering continues after imported IDs


def test_reimport_of_unchanged_export_changes_nothing(admin: ApiClient) -> None:
    _seed(admin)
    response = _import(admin, _export(admin))
    assert (response.json["created"], response.json["updated"], response.json["unchanged"]) == (
        0,
        0,
        3,
    )


def test_dry_run_reports_and_changes_nothing(admin: ApiClient) -> None:
    _seed(admin)
    rows = _export(admin).decode().replace("Tent", "Big tent")
    header = rows.splitlines()[0].split(",")
    new_row = {"name": "New thing", "quantity": "2", "location": "Shed", "archived": "false"}
    rows += ",".join(new_row.get(column, "") for column in header) + "\n"
    report = _import(admin, rows.encode(), dry_run=True)
    assert report.status_code == 200
    assert (report.json["created"], report.json["updated"], report.json["applied"]) == (1, 1, False)
    assert [row["action"] for row in report.json["rows"]].count("update") == 1
    names = {item["name"] for item in admin.get("/api/v1/items").json["items"]}
    assert "Big tent" not in names
    assert "New thing" not in names
    assert admin.get("/api/v1/locations").json["locations"][-1]["name"] != "Shed"


def test_two_bad_rows_apply_nothing_and_both_are_reported(admin: ApiClient) -> None:
    data = (
        "name,quantity,location,purchase_date,tags\n"
        "Good one,1,Home,2024-01-01,a\n"
        "Bad quantity,-3,Home,,\n"
        "Another good,2,Home/Shed,,b\n"
        "Bad date,1,Home,31/12/2024,\n"
    )
    response = _import(admin, data.encode())
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "line(s) 3, 5" in response.json["detail"]
    errors = {(error["line"], error["field"]) for error in response.json["report"]["errors"]}
    assert errors == {(3, "quantity"), (5, "purchase_date")}
    assert admin.get("/api/v1/items").json["total"] == 0
    assert admin.get("/api/v1/locations").json["locations"] == []


def test_header_names_in_any_order_and_unknown_columns_ignored(admin: ApiClient) -> None:
    data = "Colour,location,name\nred,Home/Kitchen,Kettle\n"
    response = _import(admin, data.encode())
    assert response.status_code == 200
    assert response.json["ignored_columns"] == ["Colour"]
    item = admin.get("/api/v1/items").json["items"][0]
    assert (item["name"], item["location_path"]) == ("Kettle", "Home › Kitchen")


def test_not_a_csv_is_refused_clearly(admin: ApiClient) -> None:
    for data, message in (
        (b"\xff\xfe\x00binary", "UTF-8"),
        (b"quantity,unit\n1,pcs\n", "'name' column"),
    ):
        response = _import(admin, data)
        assert response.status_code == 422
        assert message in response.json["detail"]


def test_viewer_may_export_but_not_import(viewer: ApiClient) -> None:
    assert _export(viewer).startswith(b"asset_id")
    assert _import(viewer, b"name\nx\n").status_code == 403


def test_export_is_readable_by_spreadsheets(admin: ApiClient) -> None:
    _seed(admin)
    rows = list(csv.DictReader(io.StringIO(_export(admin).decode())))
    drill = next(row for row in rows if row["name"] == "Drill, cordless")
    assert drill["location"] == "Home/Garage/Shelf 3"
    assert drill["tags"] == "Power, tools"
