"""The location tree: paths, rename and move of subtrees, cycles, deleting with contents."""

from typing import Any

from tests.conftest import ApiClient


def _item(client: ApiClient, name: str, location: str) -> dict[str, Any]:
    response = client.post("/api/v1/items", json={"name": name, "location": location})
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json
    return body


def _location_id(client: ApiClient, path: str) -> int:
    for location in client.get("/api/v1/locations").json["locations"]:
        if location["path"] == path:
            return int(location["id"])
    raise AssertionError(f"no location {path}")


def test_item_location_path_creates_missing_levels(editor: ApiClient) -> None:
    item = _item(editor, "Cordless drill", "Home/Garage/Shelf 3/Box A")
    assert item["location_path"] == "Home › Garage › Shelf 3 › Box A"
    again = _item(editor, "Drill bits", "home/garage/shelf 3/box a")
    assert again["location_id"] == item["location_id"]  # case-insensitive, no duplicate levels


def test_rename_updates_paths_and_keyword_search(editor: ApiClient) -> None:
    item = _item(editor, "Sleeping bag", "Home/Loft/Blue box")
    loft = _location_id(editor, "Home › Loft")
    response = editor.patch(f"/api/v1/locations/{loft}", json={"name": "Attic"})
    assert response.status_code == 200
    assert response.json["path"] == "Home › Attic"
    assert editor.get(f"/api/v1/items/{item['id']}").json["location_path"] == (
        "Home › Attic › Blue box"
    )
    hits = editor.get("/api/v1/search", query_string={"q": "attic"}).json["results"]
    assert [hit["item"]["id"] for hit in hits] == [item["id"]]


def test_move_subtree_keeps_contents(editor: ApiClient) -> None:
    item = _item(editor, "Tent", "Home/Garage/Camping box")
    _item(editor, "Bike", "Storage unit")
    box = _location_id(editor, "Home › Garage › Camping box")
    unit = _location_id(editor, "Storage unit")
    response = editor.patch(f"/api/v1/locations/{box}", json={"parent_id": unit})
    assert response.status_code == 200
    assert editor.get(f"/api/v1/items/{item['id']}").json["location_path"] == (
        "Storage unit › Camping box"
    )
    in_unit = editor.get("/api/v1/items", query_string={"location_id": unit}).json
    assert {entry["name"] for entry in in_unit["items"]} == {"Tent", "Bike"}


def test_move_into_own_subtree_is_refused(editor: ApiClient) -> None:
    _item(editor, "Jar", "Home/Kitchen/Pantry")
    home = _location_id(editor, "Home")
    pantry = _location_id(editor, "Home › Kitchen › Pantry")
    for target in (home, pantry):
        response = editor.patch(f"/api/v1/locations/{home}", json={"parent_id": target})
        assert response.status_code == 409
        assert response.mimetype == "application/problem+json"
        assert "cycle" in response.json["errors"]["parent_id"][0]
    assert editor.get(f"/api/v1/locations/{home}").json["parent_id"] is None


def test_sibling_names_are_unique(editor: ApiClient) -> None:
    editor.post("/api/v1/locations", json={"name": "Garage"})
    response = editor.post("/api/v1/locations", json={"name": "garage"})
    assert response.status_code == 409
    shed = editor.post("/api/v1/locations", json={"name": "Shed"}).json
    renamed = editor.patch(f"/api/v1/locations/{shed['id']}", json={"name": "GARAGE"})
    assert renamed.status_code == 409
    assert editor.get(f"/api/v1/locations/{shed['id']}").json["name"] == "Shed"


def test_delete_with_contents_needs_consent(editor: ApiClient) -> None:
    item = _item(editor, "Hammer", "Home/Garage/Toolbox")
    toolbox = _location_id(editor, "Home › Garage › Toolbox")
    garage = _location_id(editor, "Home › Garage")

    refused = editor.delete(f"/api/v1/locations/{toolbox}")
    assert refused.status_code == 409
    assert "1 item" in refused.json["detail"]
    assert editor.get(f"/api/v1/items/{item['id']}").json["location_id"] == toolbox

    done = editor.delete(
        f"/api/v1/locations/{toolbox}", query_string={"move_contents_to_parent": "true"}
    )
    assert done.status_code == 204
    moved = editor.get(f"/api/v1/items/{item['id']}").json
    assert moved["location_id"] == garage
    history = editor.get(f"/api/v1/items/{item['id']}/history").json
    assert history[0]["field"] == "location"
    assert history[0]["new_value"]["path"] == "Home › Garage"


def test_delete_moves_child_locations_up(editor: ApiClient) -> None:
    _item(editor, "Screws", "Shed/Cabinet/Drawer")
    cabinet = _location_id(editor, "Shed › Cabinet")
    response = editor.delete(
        f"/api/v1/locations/{cabinet}", query_string={"move_contents_to_parent": "true"}
    )
    assert response.status_code == 204
    paths = {entry["path"] for entry in editor.get("/api/v1/locations").json["locations"]}
    assert paths == {"Shed", "Shed › Drawer"}


def test_empty_location_deletes_without_consent(editor: ApiClient) -> None:
    created = editor.post("/api/v1/locations", json={"name": "Empty shelf"}).json
    assert editor.delete(f"/api/v1/locations/{created['id']}").status_code == 204
    assert editor.get(f"/api/v1/locations/{created['id']}").status_code == 404
