"""What people do on their phones, in a real browser."""

from __future__ import annotations

import io
import re
from typing import Any

import zxingcpp
from PIL import Image

from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD, ApiClient


def _sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_add_find_edit_and_move_an_item(page: Any, editor: ApiClient) -> None:
    editor.post(
        "/api/v1/items",
        json={
            "name": "Camping stove",
            "location": "Home/Garage/Shelf 2",
            "tags": ["camping"],
            "warranty_expires": "2099-01-01",
        },
    )
    _sign_in(page, "editor-user")

    page.get_by_role("link", name="Add").click()
    page.get_by_label("Name", exact=True).fill("DeWalt 20V cordless drill/driver")
    page.get_by_label("Location", exact=True).fill("Home/Garage/Workbench")
    page.get_by_label("Tags").fill("tools, power")
    page.get_by_role("button", name="Add item").click()
    page.wait_for_url(re.compile(r"/items/\d+"))
    assert page.get_by_text("Home › Garage › Workbench").is_visible()

    page.get_by_label("Add photos").set_input_files(
        {"name": "drill.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}
    )
    page.wait_for_selector(".gallery img")
    assert page.locator(".gallery img").first.evaluate("img => img.naturalWidth") > 0
    screenshot(page, "item")

    page.get_by_role("link", name="Inventory").click()
    page.get_by_label("Where is my…").fill("something to drive screws with a battery")
    first = page.locator(".live-results .item").first
    first.wait_for()
    assert "DeWalt" in first.inner_text()
    assert "Home › Garage › Workbench" in first.inner_text()
    screenshot(page, "search")
    first.locator("a").click()

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Quantity").fill("3")
    page.get_by_label("Location", exact=True).fill("Home/Shed")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/items/\d+$"))
    history = page.locator(".history").inner_text()
    assert "quantity" in history
    assert "Home › Garage › Workbench → Home › Shed" in history

    page.goto("/")
    screenshot(page, "home")


def test_move_a_location_in_the_tree(page: Any, editor: ApiClient) -> None:
    editor.post("/api/v1/items", json={"name": "Tent", "location": "Home/Loft/Blue box"})
    editor.post("/api/v1/locations", json={"name": "Storage unit"})
    _sign_in(page, "editor-user")
    page.goto("/locations")
    box = page.locator("li", has=page.locator("summary", has_text="Blue box")).last
    box.get_by_label("Inside").select_option(label="Storage unit")
    box.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/locations$"))
    item = editor.get("/api/v1/items").json["items"][0]
    assert item["location_path"] == "Storage unit › Blue box"


def test_viewer_has_no_edit_controls(page: Any, editor: ApiClient, make_api: Any) -> None:
    item = editor.post("/api/v1/items", json={"name": "Lamp"}).json
    make_api("viewer")
    _sign_in(page, "viewer-user")
    page.goto(f"/items/{item['id']}")
    assert page.get_by_role("link", name="Edit").count() == 0
    assert page.get_by_role("button", name="One more").count() == 0
    assert page.get_by_role("link", name="Add").count() == 0
    response = page.request.post(f"/items/{item['id']}/quantity", form={"delta": "1"})
    assert response.status in (400, 403)  # no CSRF token or no permission: never applied
    assert editor.get(f"/api/v1/items/{item['id']}").json["quantity"] == 1


def test_csv_import_preview_names_the_bad_line(page: Any, editor: ApiClient) -> None:
    _sign_in(page, "editor-user")
    page.goto("/account/import")
    page.get_by_label("File to import").set_input_files(
        {
            "name": "items.csv",
            "mimeType": "text/csv",
            "buffer": b"name,quantity\nTent,1\nStove,many\nMug,2\n",
        }
    )
    page.get_by_role("button", name="Preview").click()
    # The job page polls the job (app.js) and shows the outcome when it ends.
    row = page.locator("table.errors tbody tr").first
    row.wait_for(timeout=30_000)
    assert row.locator("td").nth(0).inner_text() == "3"
    assert row.locator("td").nth(1).inner_text() == "quantity"
    assert editor.get("/api/v1/items").json["total"] == 0


def test_import_shows_progress_then_the_preview_then_imports(page: Any, editor: ApiClient) -> None:
    _sign_in(page, "editor-user")
    page.goto("/account/import")
    rows = "".join(f"Kiste {n},1,Keller/Regal {n % 9}\n" for n in range(600))
    page.get_by_label("File to import").set_input_files(
        {
            "name": "boxes.csv",
            "mimeType": "text/csv",
            "buffer": ("name,quantity,location\n" + rows).encode(),
        }
    )
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("heading", name="Preview: nothing changed yet").wait_for(timeout=60_000)
    assert "600 to create" in page.inner_text("main")
    page.get_by_role("button", name="Import these rows").click()
    page.get_by_role("heading", name="Imported").wait_for(timeout=120_000)
    screenshot(page, "import-done")
    assert editor.get("/api/v1/items").json["total"] == 600


def test_label_qr_decodes_and_the_scan_page_resolves_it(page: Any, editor: ApiClient) -> None:
    item = editor.post("/api/v1/items", json={"name": "Drill", "location": "Garage"}).json
    _sign_in(page, "editor-user")
    page.goto(f"/items/{item['id']}")
    page.get_by_role("link", name="Print a label").click()
    label = page.locator(".label").first
    assert item["asset_id"] in label.inner_text()
    screenshot(page, "labels")

    photo = label.screenshot()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(photo)))
    assert decoded, "the label's QR code must be readable"
    assert decoded[0].text == f"{page.url.split('/labels')[0]}/items/{item['id']}"

    page.goto("/scan")
    page.get_by_label("Take or choose a photo of the label").set_input_files(
        {"name": "label.png", "mimeType": "image/png", "buffer": photo}
    )
    page.get_by_role("button", name="Find it").click()
    page.wait_for_url(re.compile(rf"/items/{item['id']}$"))
    assert page.get_by_role("heading", name="Drill").is_visible()


def test_api_docs_render_offline_under_the_strict_policy(page: Any, database: Any) -> None:
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto("/api/v1/docs")
    page.locator(".opblock-summary-path", has_text="/api/v1/items").first.wait_for()
    assert page.locator(".opblock").count() > 20
    assert not csp_violations, csp_violations
