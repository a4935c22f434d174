"""Bad input gets a clear problem response naming what was wrong; never a 500."""

from typing import Any

import pytest

from tests.conftest import ApiClient


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json
    assert body["status"] == status
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def test_malformed_json(editor: ApiClient) -> None:
    response = editor.post("/api/v1/items", data="{not json", content_type="application/json")
    assert "not valid JSON" in _problem(response, 400)["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 42}, "name"),
        ({"name": "x", "quantity": "lots"}, "quantity"),
        ({"name": "x", "tags": "tools"}, "tags"),
        ({"name": "x", "archived": "maybe"}, "archived"),
        ({"name": "x", "location_id": "3"}, "location_id"),
        ({"name": "x", "surprise": True}, "surprise"),
        ({"name": "x" * 201}, "name"),
        ({"name": "x", "notes": "y" * 10_001}, "notes"),
        ({"name": "nul\x00byte"}, "name"),
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "x", "location_id": 2**40}, "location_id"),
        ({"name": "x", "location": "A", "location_id": 1}, "location"),
        ({"name": "x", "location_id": 12345}, "location_id"),
    ],
)
def test_wrong_fields_are_named(editor: ApiClient, body: dict[str, Any], field: str) -> None:
    problem = _problem(editor.post("/api/v1/items", json=body), 422)
    assert field in problem["errors"]
    assert field in problem["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/items/0",
        "/api/v1/items/-1",
        "/api/v1/items/abc",
        "/api/v1/items/99999999999999999999",
        "/api/v1/items/12345",
        "/api/v1/locations/12345",
        "/api/v1/tags/12345",
    ],
)
def test_bad_and_unknown_ids_are_404(editor: ApiClient, url: str) -> None:
    _problem(editor.get(url), 404)


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "name; DROP TABLE items"},
        {"order": "sideways"},
        {"per_page": "1000"},
        {"page": "0"},
        {"archived": "perhaps"},
        {"location_id": "1 OR 1=1"},
    ],
)
def test_bad_list_parameters_are_422(editor: ApiClient, query: dict[str, str]) -> None:
    _problem(editor.get("/api/v1/items", query_string=query), 422)
    assert editor.get("/api/v1/items").status_code == 200


@pytest.mark.parametrize(
    "text", ["'; DROP TABLE items; --", "a & b | !c", "((", "<script>", "\\", '"unclosed', "x:*"]
)
def test_hostile_search_text_is_just_text(editor: ApiClient, text: str) -> None:
    editor.post("/api/v1/items", json={"name": "Drill"})
    for url in ("/api/v1/search", "/api/v1/items"):
        response = editor.get(url, query_string={"q": text})
        assert response.status_code == 200, response.json
    assert editor.get("/api/v1/items").json["total"] == 1


def test_unknown_route_and_method(editor: ApiClient) -> None:
    _problem(editor.get("/api/v1/nothing-here"), 404)
    _problem(editor.put("/api/v1/items", json={}), 405)


def test_wrong_content_type_for_json_body(editor: ApiClient) -> None:
    response = editor.post("/api/v1/items", data="name=x", content_type="text/plain")
    assert response.status_code in (400, 415, 422)
    assert response.mimetype == "application/problem+json"
