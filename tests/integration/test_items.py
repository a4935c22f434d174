"""Items through the API: fields, tags, history, versions, listing, bulk changes."""

from typing import Any

import pytest

from tests.conftest import ApiClient


def _create(client: ApiClient, **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", "Thing")
    response = client.post("/api/v1/items", json=fields)
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json
    return body


def test_create_assigns_a_short_asset_id_and_keeps_every_field(editor: ApiClient) -> None:
    item = _create(
        editor,
        name="Drill",
        description="DeWalt 20V cordless drill/driver",
        quantity=2,
        unit="pcs",
        location="Home/Garage",
        tags=["Tools", "Power"],
        custom_fields=[
            {"name": "Voltage", "type": "number", "value": 20},
            {"name": "Manual", "type": "url", "value": "https://example.org/manual.pdf"},
            {"name": "Serviced", "type": "date", "value": "2026-01-31"},
            {"name": "Brushless", "type": "boolean", "value": True},
            {"name": "Colour", "type": "text", "value": "yellow"},
        ],
        manufacturer="DeWalt",
        model="DCD777",
        serial_number="SN-1",
        purchase_date="2025-03-01",
        purchase_price=129.99,
        currency="EUR",
        vendor="Hardware store",
        warranty_expires="2028-03-01",
        notes="Charger is in the blue bag",
    )
    assert item["asset_id"] == "000-001"
    assert _create(editor, name="Second")["asset_id"] == "000-002"
    fetched = editor.get(f"/api/v1/items/{item['id']}").json
    assert fetched["purchase_price"] == 129.99
    assert fetched["custom_fields"][0] == {"name": "Voltage", "type": "number", "value": 20}
    assert fetched["tags"] == ["Power", "Tools"]
    assert fetched["location_path"] == "Home › Garage"
    assert fetched["version"] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("custom_fields", [{"name": "Voltage", "type": "number", "value": "twenty"}]),
        ("custom_fields", [{"name": "Manual", "type": "url", "value": "javascript:alert(1)"}]),
        ("custom_fields", [{"name": "When", "type": "date", "value": "yesterday"}]),
        ("custom_fields", [{"name": "X", "type": "colour", "value": "red"}]),
        ("quantity", -1),
        ("currency", "euro"),
        ("purchase_price", -5),
    ],
)
def test_invalid_field_values_are_refused_by_name(
    editor: ApiClient, field: str, value: Any
) -> None:
    response = editor.post("/api/v1/items", json={"name": "Bad", field: value})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]
    assert editor.get("/api/v1/items").json["total"] == 0


def test_quantity_never_goes_below_zero(editor: ApiClient) -> None:
    item = _create(editor, name="Batteries", quantity=2)
    url = f"/api/v1/items/{item['id']}/quantity"
    assert editor.post(url, json={"delta": -2}).json["quantity"] == 0
    refused = editor.post(url, json={"delta": -1})
    assert refused.status_code == 422
    assert "negative" in refused.json["detail"]
    assert editor.post(url, json={"delta": 5}).json["quantity"] == 5


def test_tags_are_case_insensitive_and_unique(editor: ApiClient) -> None:
    first = _create(editor, name="Tent", tags=["Camping", "camping", "CAMPING "])
    assert first["tags"] == ["Camping"]
    _create(editor, name="Stove", tags=["camping"])
    tags = editor.get("/api/v1/tags").json["tags"]
    assert [(tag["name"], tag["item_count"]) for tag in tags] == [("Camping", 2)]
    assert editor.post("/api/v1/tags", json={"name": "CAMPING"}).status_code == 409
    listed = editor.get("/api/v1/items", query_string={"tag": "CAMPING"}).json
    assert {entry["name"] for entry in listed["items"]} == {"Tent", "Stove"}


def test_history_records_each_kind_of_change(editor: ApiClient) -> None:
    item = _create(editor, name="Lamp", quantity=1, location="Home/Office", tags=["light"])
    url = f"/api/v1/items/{item['id']}"
    editor.patch(url, json={"quantity": 3})
    editor.patch(url, json={"location": "Home/Bedroom"})
    editor.patch(url, json={"tags": ["light", "desk"]})
    editor.patch(url, json={"description": "Warm white", "archived": True})
    editor.patch(url, json={"custom_fields": [{"name": "Watt", "type": "number", "value": 8}]})
    history = editor.get(f"{url}/history").json
    changes = {
        (entry["field"], str(entry["old_value"]), str(entry["new_value"])) for entry in history
    }
    assert ("quantity", "1", "3") in changes
    assert ("tags", "['light']", "['desk', 'light']") in changes
    assert ("description", "", "Warm white") in changes
    assert ("archived", "False", "True") in changes
    location = next(entry for entry in history if entry["field"] == "location")
    assert location["old_value"]["path"] == "Home › Office"
    assert location["new_value"]["path"] == "Home › Bedroom"
    assert history[-1]["action"] == "created"
    assert all(entry["actor"] == "editor-user" for entry in history)


def test_unchanged_update_records_nothing_and_keeps_the_version(editor: ApiClient) -> None:
    item = _create(editor, name="Lamp", quantity=1)
    response = editor.patch(f"/api/v1/items/{item['id']}", json={"name": "Lamp", "quantity": 1})
    assert response.json["version"] == 1
    assert len(editor.get(f"/api/v1/items/{item['id']}/history").json) == 1


def test_stale_version_in_body_gets_409(editor: ApiClient, make_api: Any) -> None:
    other = make_api("editor", "other-editor")
    item = _create(editor, name="Ladder")
    url = f"/api/v1/items/{item['id']}"
    assert other.patch(url, json={"notes": "lent to Sam", "version": 1}).status_code == 200
    stale = editor.patch(url, json={"notes": "in the shed", "version": 1})
    assert stale.status_code == 409
    assert editor.get(url).json["notes"] == "lent to Sam"


def test_stale_if_match_gets_412_and_etag_round_trips(editor: ApiClient) -> None:
    item = _create(editor, name="Ladder")
    url = f"/api/v1/items/{item['id']}"
    etag = editor.get(url).headers["ETag"]
    first = editor.patch(url, json={"notes": "one"}, headers={"If-Match": etag})
    assert first.status_code == 200
    assert first.headers["ETag"] != etag
    second = editor.patch(url, json={"notes": "two"}, headers={"If-Match": etag})
    assert second.status_code == 412
    assert editor.get(url).json["notes"] == "one"


def test_list_pages_sorts_and_filters(editor: ApiClient) -> None:
    for number in range(7):
        _create(editor, name=f"Box {number}", location="Attic" if number % 2 else "Cellar")
    _create(editor, name="Old box", archived=True)
    page = editor.get("/api/v1/items", query_string={"per_page": 3, "page": 2, "sort": "name"}).json
    assert (page["total"], page["pages"], page["page"]) == (7, 3, 2)
    assert [entry["name"] for entry in page["items"]] == ["Box 3", "Box 4", "Box 5"]
    desc = editor.get("/api/v1/items", query_string={"sort": "name", "order": "desc"}).json
    assert desc["items"][0]["name"] == "Box 6"
    archived = editor.get("/api/v1/items", query_string={"archived": "true"}).json
    assert [entry["name"] for entry in archived["items"]] == ["Old box"]
    assert editor.get("/api/v1/items", query_string={"archived": "all"}).json["total"] == 8
    text = editor.get("/api/v1/items", query_string={"q": "attic"}).json
    assert text["total"] == 3


def test_bulk_move_and_tag_are_all_or_nothing(editor: ApiClient) -> None:
    ids = [_create(editor, name=f"Jar {n}", location="Kitchen")["id"] for n in range(3)]
    moved = editor.post(
        "/api/v1/items/bulk/move", json={"item_ids": ids, "location": "Home/Pantry"}
    )
    assert moved.status_code == 200
    assert {entry["location_path"] for entry in moved.json["items"]} == {"Home › Pantry"}
    failed = editor.post(
        "/api/v1/items/bulk/tag", json={"item_ids": [*ids, 999999], "add": ["glass"]}
    )
    assert failed.status_code == 422
    assert "999999" in failed.json["detail"]
    assert all(editor.get(f"/api/v1/items/{i}").json["tags"] == [] for i in ids)
    tagged = editor.post("/api/v1/items/bulk/tag", json={"item_ids": ids, "add": ["glass"]})
    assert {tuple(entry["tags"]) for entry in tagged.json["items"]} == {("glass",)}
    untagged = editor.post("/api/v1/items/bulk/tag", json={"item_ids": ids, "remove": ["GLASS"]})
    assert {tuple(entry["tags"]) for entry in untagged.json["items"]} == {()}


def test_delete_tag_records_history_on_items(editor: ApiClient) -> None:
    item = _create(editor, name="Rope", tags=["camping", "climbing"])
    tag_id = next(
        t["id"] for t in editor.get("/api/v1/tags").json["tags"] if t["name"] == "camping"
    )
    assert editor.delete(f"/api/v1/tags/{tag_id}").status_code == 204
    assert editor.get(f"/api/v1/items/{item['id']}").json["tags"] == ["climbing"]
    latest = editor.get(f"/api/v1/items/{item['id']}/history").json[0]
    assert (latest["field"], latest["new_value"]) == ("tags", ["climbing"])


def test_delete_item(editor: ApiClient) -> None:
    item = _create(editor, name="Broken kettle")
    assert editor.delete(f"/api/v1/items/{item['id']}").status_code == 204
    assert editor.get(f"/api/v1/items/{item['id']}").status_code == 404
