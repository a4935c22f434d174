"""Server-rendered pages through the test client: forms, roles, errors beside fields.
(The real-browser journeys live in tests/browser.)"""

import io
import re
from typing import Any

from flask import Flask

from tests.conftest import PASSWORD, ApiClient
from tests.helpers import csrf_token, post_form, signed_in


def test_every_page_renders_for_an_admin(app: Flask, admin: ApiClient) -> None:
    admin.post(
        "/api/v1/items",
        json={"name": "Drill", "location": "Home/Garage", "warranty_expires": "2099-01-01"},
    )
    client = signed_in(app, "admin-user")
    for path in (
        "/",
        "/items",
        "/items/1",
        "/items/new",
        "/items/1/edit",
        "/locations",
        "/account",
        "/account/users",
        "/account/import",
        "/search?q=drill",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Drill" in response.get_data(as_text=True) or path in (
            "/items/new",
            "/locations",
            "/account",
            "/account/users",
            "/account/import",
        ), path


def test_create_item_form_keeps_input_and_names_bad_fields(app: Flask, editor: ApiClient) -> None:
    client = signed_in(app, "editor-user")
    bad = post_form(
        client,
        "/items/new",
        page="/items/new",
        data={
            "name": "Tent",
            "description": "two person",
            "quantity": "-2",
            "currency": "euro",
            "location": "Home/Loft",
            "tags": "camping, outdoor",
            "cf_name": "Weight",
            "cf_type": "number",
            "cf_value": "heavy",
        },
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'id="quantity-error"' in page
    assert 'id="currency-error"' in page
    assert "two person" in page
    assert "camping, outdoor" in page
    assert "heavy" in page
    good = post_form(
        client,
        "/items/new",
        page="/items/new",
        data={
            "name": "Tent",
            "quantity": "1",
            "location": "Home/Loft",
            "tags": "camping",
            "cf_name": "Weight",
            "cf_type": "number",
            "cf_value": "2.5",
        },
    )
    assert good.status_code == 302
    item = editor.get("/api/v1/items").json["items"][0]
    assert item["custom_fields"] == [{"name": "Weight", "type": "number", "value": 2.5}]
    assert item["location_path"] == "Home › Loft"


def test_edit_with_stale_version_is_refused_and_keeps_input(app: Flask, editor: ApiClient) -> None:
    item = editor.post("/api/v1/items", json={"name": "Ladder"}).json
    client = signed_in(app, "editor-user")
    editor.patch(f"/api/v1/items/{item['id']}", json={"notes": "someone else"})
    response = post_form(
        client,
        f"/items/{item['id']}/edit",
        page=f"/items/{item['id']}/edit",
        data={"name": "Ladder", "notes": "mine", "version": "1", "quantity": "1"},
    )
    assert response.status_code == 422
    assert "changed by someone else" in response.get_data(as_text=True)
    assert "mine" in response.get_data(as_text=True)
    assert editor.get(f"/api/v1/items/{item['id']}").json["notes"] == "someone else"


def test_quantity_buttons(app: Flask, editor: ApiClient) -> None:
    item = editor.post("/api/v1/items", json={"name": "Batteries", "quantity": 1}).json
    client = signed_in(app, "editor-user")
    detail = f"/items/{item['id']}"
    for delta in ("-1", "-1", "1"):
        post_form(client, f"{detail}/quantity", page=detail, data={"delta": delta})
    assert editor.get(f"/api/v1/items/{item['id']}").json["quantity"] == 1


def test_viewer_sees_no_edit_controls_and_cannot_post(
    app: Flask, editor: ApiClient, make_api: Any
) -> None:
    item = editor.post("/api/v1/items", json={"name": "Lamp", "location": "Office"}).json
    make_api("viewer")
    client = signed_in(app, "viewer-user")
    page = client.get(f"/items/{item['id']}").get_data(as_text=True)
    assert "Edit" not in page
    assert "Delete this item" not in page
    assert "One more" not in page
    assert client.get("/items/new").status_code == 403
    token = csrf_token(page)
    for path in (
        f"/items/{item['id']}/quantity",
        f"/items/{item['id']}/delete",
        "/locations",
        "/items/new",
        "/account/import",
    ):
        assert client.post(path, data={"csrf_token": token, "delta": "1"}).status_code == 403
    assert editor.get(f"/api/v1/items/{item['id']}").status_code == 200


def test_location_tree_create_move_and_refused_cycle(app: Flask, editor: ApiClient) -> None:
    client = signed_in(app, "editor-user")
    post_form(client, "/locations", page="/locations", data={"name": "Home"})
    home = editor.get("/api/v1/locations").json["locations"][0]["id"]
    post_form(
        client, "/locations", page="/locations", data={"name": "Garage", "parent_id": str(home)}
    )
    garage = next(
        loc["id"]
        for loc in editor.get("/api/v1/locations").json["locations"]
        if loc["name"] == "Garage"
    )
    refused = post_form(
        client,
        f"/locations/{home}",
        page="/locations",
        data={"name": "Home", "parent_id": str(garage)},
    )
    assert "below itself" in client.get(refused.location).get_data(as_text=True)
    assert editor.get(f"/api/v1/locations/{home}").json["parent_id"] is None
    post_form(
        client, f"/locations/{garage}", page="/locations", data={"name": "Shed", "parent_id": ""}
    )
    moved = editor.get(f"/api/v1/locations/{garage}").json
    assert (moved["name"], moved["parent_id"]) == ("Shed", None)


def _job_page(app: Flask, client: Any, response: Any) -> str:
    """Follow an import's redirect to its job page once the job has ended."""
    assert response.status_code == 302, response.get_data(as_text=True)
    assert app.extensions["inventory.jobs"].wait_idle(120)
    page: str = client.get(response.location).get_data(as_text=True)
    return page


def test_csv_import_preview_names_bad_line_then_applies(app: Flask, editor: ApiClient) -> None:
    client = signed_in(app, "editor-user")
    token = csrf_token(client.get("/account/import").get_data(as_text=True))
    bad = client.post(
        "/account/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"name,quantity\nOk,1\nBad,-4\n"), "x.csv")},
    )
    page = _job_page(app, client, bad)
    assert "Nothing was imported" in page
    assert "<td>3</td><td>quantity</td>" in page
    good = client.post(
        "/account/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"name,quantity\nOk,1\nFine,2\n"), "x.csv")},
    )
    page = _job_page(app, client, good)
    assert "Preview: nothing changed yet" in page
    assert editor.get("/api/v1/items").json["total"] == 0
    apply_url = re.search(r'action="(/account/import/jobs/\d+/apply)"', page)
    assert apply_url
    applied = client.post(apply_url.group(1), data={"csrf_token": csrf_token(page)})
    assert "Imported" in _job_page(app, client, applied)
    assert editor.get("/api/v1/items").json["total"] == 2


def test_spreadsheet_import_asks_which_column_is_what(app: Flask, editor: ApiClient) -> None:
    client = signed_in(app, "editor-user")
    token = csrf_token(client.get("/account/import").get_data(as_text=True))
    asked = client.post(
        "/account/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"Was,Wo\nZelt,Keller\n"), "s.csv")},
    )
    page = asked.get_data(as_text=True)
    assert "Which column is what?" in page
    input_id = re.search(r'name="input_id" value="(\d+)"', page)
    assert input_id
    mapped = client.post(
        "/account/import/mapping",
        data={
            "csrf_token": token,
            "input_id": input_id.group(1),
            "map-0": "name",
            "map-1": "location",
        },
    )
    preview = _job_page(app, client, mapped)
    assert "1 to create" in preview
    assert "new in Keller" in preview


def test_tokens_and_password_from_the_account_page(app: Flask, viewer: ApiClient) -> None:
    client = signed_in(app, "viewer-user")
    created = post_form(client, "/account/tokens", page="/account", data={"name": "shortcut"})
    secret = re.search(r'class="token">(inv_[^<]+)<', created.get_data(as_text=True))
    assert secret
    assert (
        app.test_client()
        .get("/api/v1/me", headers={"Authorization": f"Bearer {secret.group(1)}"})
        .status_code
        == 200
    )
    changed = post_form(
        client,
        "/account/password",
        page="/account",
        data={
            "current_password": PASSWORD,
            "new_password": "new long password",
            "confirm": "new long password",
        },
    )
    assert "password changed" in client.get(changed.location).get_data(as_text=True)


def test_label_sheet_and_scan_by_photo_and_asset_id(app: Flask, editor: ApiClient) -> None:
    import segno

    item = editor.post("/api/v1/items", json={"name": "Drill", "location": "Garage"}).json
    client = signed_in(app, "editor-user")
    sheet = client.get(f"/labels?item={item['id']}&location={item['location_id']}")
    page = sheet.get_data(as_text=True)
    assert sheet.status_code == 200
    assert item["asset_id"] in page
    assert page.count('class="segno"') == 2

    photo = io.BytesIO()
    segno.make(f"http://localhost/items/{item['id']}").save(photo, kind="png", scale=8)
    token = csrf_token(client.get("/scan").get_data(as_text=True))
    scanned = client.post(
        "/scan", data={"csrf_token": token, "photo": (io.BytesIO(photo.getvalue()), "label.png")}
    )
    assert scanned.location == f"/items/{item['id']}"
    typed = client.post("/scan", data={"csrf_token": token, "asset_id": item["asset_id"]})
    assert typed.location == f"/items/{item['id']}"
    foreign = io.BytesIO()
    segno.make("https://elsewhere.example/items/1").save(foreign, kind="png", scale=8)
    refused = client.post(
        "/scan", data={"csrf_token": token, "photo": (io.BytesIO(foreign.getvalue()), "x.png")}
    )
    assert refused.status_code == 422
    assert "not one of this inventory" in refused.get_data(as_text=True)


def test_create_form_takes_photos_and_says_when_one_is_refused(
    app: Flask, editor: ApiClient
) -> None:
    from PIL import Image

    client = signed_in(app, "editor-user")
    token = csrf_token(client.get("/items/new").get_data(as_text=True))
    jpeg = io.BytesIO()
    Image.new("RGB", (640, 480), (10, 120, 60)).save(jpeg, "JPEG")
    created = client.post(
        "/items/new",
        data={
            "csrf_token": token,
            "name": "Kayak",
            "quantity": "1",
            "photos": [(io.BytesIO(jpeg.getvalue()), "kayak.jpg")],
        },
    )
    assert created.status_code == 302
    kayak = editor.get("/api/v1/items").json["items"][0]
    assert len(kayak["photos"]) == 1

    refused = client.post(
        "/items/new",
        data={
            "csrf_token": token,
            "name": "Paddle",
            "quantity": "1",
            "photos": [(io.BytesIO(b"not an image at all"), "paddle.jpg")],
        },
    )
    page = client.get(refused.location).get_data(as_text=True)
    assert "The item was saved, but not its photos" in page
    paddle = next(i for i in editor.get("/api/v1/items").json["items"] if i["name"] == "Paddle")
    assert paddle["photos"] == []


def test_every_kind_of_answer_carries_the_security_headers(app: Flask, viewer: ApiClient) -> None:
    client = app.test_client()
    answers = {
        "sign-in page": client.get("/login"),
        "redirect": client.get("/items"),
        "static file": client.get("/static/app.css"),
        "API JSON": viewer.get("/api/v1/items"),
        "problem": viewer.get("/api/v1/items/99999"),
        "unknown page": client.get("/no-such-page"),
    }
    for kind, response in answers.items():
        headers = response.headers
        policy = headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy, kind
        assert "unsafe-inline" not in policy, kind
        assert "frame-ancestors 'none'" in policy, kind
        assert headers.get("X-Content-Type-Options") == "nosniff", kind
        assert headers.get("X-Frame-Options") == "DENY", kind
        assert headers.get("Referrer-Policy") == "same-origin", kind
        response.close()
