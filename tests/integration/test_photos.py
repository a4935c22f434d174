"""Photos end to end: real images made with Pillow, the real app, real PostgreSQL, both
storage methods; every refused upload must leave no row, no file and no blob behind."""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from PIL import ExifTags, Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory.app import create_app
from inventory.cli import main
from inventory.db.models import ImageBlob, Photo
from inventory.db.session import Database
from inventory.photos import maintenance
from inventory.photos.store import DatabaseStore, FilesystemStore
from inventory.settings import Settings
from tests.conftest import ApiClient
from tests.helpers import signed_in

GPS_MARKER = "SECRET-PLACE-48151623"


@dataclasses.dataclass
class PhotoEnv:
    """An app with its own image folder and storage method, and clients for it."""

    app: Flask
    settings: Settings
    editor: ApiClient
    viewer: ApiClient

    @property
    def image_dir(self) -> Path:
        return self.settings.images_path

    def files(self) -> list[Path]:
        if not self.image_dir.exists():
            return []
        return sorted(path for path in self.image_dir.rglob("*") if path.is_file())


def _client(app: Flask, api: ApiClient) -> ApiClient:
    return ApiClient(client=app.test_client(), user=api.user, token=api.token)


@pytest.fixture
def make_env(
    settings: Settings, database: Database, tmp_path: Path, editor: ApiClient, viewer: ApiClient
) -> Callable[..., PhotoEnv]:
    def make(**changes: Any) -> PhotoEnv:
        changes.setdefault("image_dir", tmp_path / f"images-{len(list(tmp_path.iterdir()))}")
        changed = dataclasses.replace(settings, **changes)
        app = create_app(changed, database)
        return PhotoEnv(app, changed, _client(app, editor), _client(app, viewer))

    return make


@pytest.fixture(params=["filesystem", "database"])
def env(request: pytest.FixtureRequest, make_env: Callable[..., PhotoEnv]) -> PhotoEnv:
    return make_env(image_storage_method=request.param)


# ---- images made with Pillow ----------------------------------------------------------------


def _halves(size: tuple[int, int] = (400, 200)) -> Image.Image:
    """Left half red, right half blue: shows which way the picture was turned."""
    image = Image.new("RGB", size, (220, 20, 20))
    image.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    return image


def _exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.ImageDescription] = GPS_MARKER
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 15.0, 16.23)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (11.0, 34.0, 42.0)
    gps[ExifTags.GPS.GPSProcessingMethod] = GPS_MARKER.encode()
    return exif


def jpeg(image: Image.Image | None = None, orientation: int = 1, **options: Any) -> bytes:
    buffer = io.BytesIO()
    (image or _halves()).save(
        buffer, "JPEG", exif=_exif(orientation).tobytes(), quality=92, **options
    )
    return buffer.getvalue()


def encoded(fmt: str, image: Image.Image | None = None, **options: Any) -> bytes:
    buffer = io.BytesIO()
    (image or _halves()).save(buffer, fmt, **options)
    return buffer.getvalue()


def heic(orientation: int = 1) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("this libheif build has no HEVC encoder, so no HEIC can be made here")
    pillow_heif.register_heif_opener()
    return encoded("HEIF", exif=_exif(orientation).tobytes())


def multipart(files: Sequence[tuple[bytes, str]], field: str = "photos") -> tuple[bytes, str]:
    """The request body built in memory (the test client spools big bodies to temp files
    it never closes, which this suite's warnings-as-errors would report)."""
    boundary = "photo-test-boundary-7d3f"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
        for data, name in files
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def upload(client: ApiClient, item_id: int, *files: tuple[bytes, str]) -> Any:
    body, content_type = multipart(files)
    return client.post(f"/api/v1/items/{item_id}/photos", data=body, content_type=content_type)


def new_item(client: ApiClient, name: str = "Camera") -> int:
    response = client.post("/api/v1/items", json={"name": name})
    assert response.status_code == 201, response.json
    item_id: int = response.json["id"]
    return item_id


def fetch(client: ApiClient, url: str) -> Any:
    response = client.get(url)
    response.get_data()  # buffer the body, then release the file it was streamed from
    response.close()
    assert response.status_code == 200, (url, response.status_code, response.data[:200])
    return response


def assert_clean(image_bytes: bytes) -> Image.Image:
    """No metadata of any kind, and not a trace of the marker put in EXIF and GPS."""
    assert GPS_MARKER.encode() not in image_bytes
    image = Image.open(io.BytesIO(image_bytes))
    exif = image.getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert len(exif) == 0
    assert not {"exif", "xmp", "icc_profile", "XML:com.adobe.xmp"} & set(image.info)
    return image


def nothing_left(env: PhotoEnv, session: Session) -> None:
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Photo)) == 0
    assert session.scalar(select(func.count()).select_from(ImageBlob)) == 0
    assert env.files() == []


# ---- upload, processing, serving ------------------------------------------------------------


def test_orientation_6_comes_out_upright_and_gps_is_gone_from_every_size(env: PhotoEnv) -> None:
    item_id = new_item(env.editor)
    source = jpeg(orientation=6)
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # it had GPS

    response = upload(env.editor, item_id, (source, "IMG_0001.JPG"))

    assert response.status_code == 201, response.json
    [photo] = response.json["photos"]
    assert (photo["width"], photo["height"]) == (200, 400)  # turned to portrait
    assert photo["is_primary"] is True
    for url in (photo["url"], photo["thumbnail_url"]):
        served = fetch(env.viewer, url)
        assert served.mimetype == "image/webp"
        assert served.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        image = assert_clean(served.data).convert("RGB")
        width, height = image.size
        assert height > width
        top, bottom = (
            image.getpixel((width // 2, height // 4)),
            image.getpixel((width // 2, 3 * height // 4)),
        )
        assert top[0] > 150 > top[2]  # the left (red) half is on top after a 90° turn
        assert bottom[2] > 150 > bottom[0]


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("jpeg", lambda: jpeg()),
        ("png", lambda: encoded("PNG", _halves().convert("RGBA"))),
        ("webp", lambda: encoded("WEBP", quality=90)),
        ("heic", lambda: heic(orientation=6)),
    ],
)
def test_every_accepted_format_round_trips(env: PhotoEnv, kind: str, make: Any) -> None:
    item_id = new_item(env.editor)
    response = upload(env.editor, item_id, (make(), f"photo.{kind}"))
    assert response.status_code == 201, response.json
    [photo] = response.json["photos"]
    display = assert_clean(fetch(env.viewer, photo["url"]).data)
    thumbnail = assert_clean(fetch(env.viewer, photo["thumbnail_url"]).data)
    assert display.format == thumbnail.format == "WEBP"
    assert display.size == (photo["width"], photo["height"])
    expected = (200, 400) if kind == "heic" else (400, 200)
    assert display.size == expected
    assert max(thumbnail.size) == 320 * max(expected) // 400 or max(thumbnail.size) <= 320


def test_large_photo_is_scaled_to_display_and_thumbnail_sizes(env: PhotoEnv) -> None:
    item_id = new_item(env.editor)
    response = upload(env.editor, item_id, (jpeg(_halves((4000, 3000))), "big.jpg"))
    assert response.status_code == 201, response.json
    [photo] = response.json["photos"]
    assert (photo["width"], photo["height"]) == (1600, 1200)
    thumbnail = Image.open(io.BytesIO(fetch(env.viewer, photo["thumbnail_url"]).data))
    assert thumbnail.size == (320, 240)


def test_several_photos_at_once_reorder_primary_and_delete(env: PhotoEnv, session: Session) -> None:
    item_id = new_item(env.editor)
    files = [(jpeg(_halves((300 + n, 200))), f"p{n}.jpg") for n in range(3)]
    response = upload(env.editor, item_id, *files)
    assert response.status_code == 201, response.json
    ids = [photo["id"] for photo in response.json["photos"]]
    assert [p["position"] for p in response.json["photos"]] == [0, 1, 2]

    reordered = env.editor.client.put(
        f"/api/v1/items/{item_id}/photos/order",
        json={"photo_ids": ids[::-1]},
        headers={"Authorization": f"Bearer {env.editor.token}"},
    )
    assert reordered.status_code == 200, reordered.json
    assert [p["id"] for p in reordered.json["photos"]] == ids[::-1]

    url = f"/api/v1/items/{item_id}/photos/{ids[2]}"
    primary = env.editor.patch(url, json={"is_primary": True})
    assert primary.status_code == 200, primary.json
    listed = env.viewer.get(f"/api/v1/items/{item_id}").json["photos"]
    assert [p["id"] for p in listed if p["is_primary"]] == [ids[2]]

    deleted = env.editor.delete(f"/api/v1/items/{item_id}/photos/{ids[2]}")
    assert deleted.status_code == 204
    listed = env.viewer.get(f"/api/v1/items/{item_id}/photos").json["photos"]
    assert [p["id"] for p in listed] == [ids[1], ids[0]]
    assert [p["is_primary"] for p in listed] == [True, False]  # the next one took over
    gone = next(p for p in response.json["photos"] if p["id"] == ids[2])
    assert env.viewer.get(gone["url"]).status_code == 404
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Photo)) == 2
    if env.settings.image_storage_method == "filesystem":
        assert len(env.files()) == 4
    else:
        assert session.scalar(select(func.count()).select_from(ImageBlob)) == 4


def test_reorder_must_name_every_photo_once(env: PhotoEnv) -> None:
    item_id = new_item(env.editor)
    ids = [
        p["id"]
        for p in upload(env.editor, item_id, (jpeg(), "a.jpg"), (encoded("PNG"), "b.png")).json[
            "photos"
        ]
    ]
    response = env.editor.client.put(
        f"/api/v1/items/{item_id}/photos/order",
        json={"photo_ids": [ids[0], ids[0]]},
        headers={"Authorization": f"Bearer {env.editor.token}"},
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


def test_same_picture_on_two_items_shares_files_until_the_last_one_goes(env: PhotoEnv) -> None:
    first, second = new_item(env.editor, "A"), new_item(env.editor, "B")
    data = jpeg()
    one = upload(env.editor, first, (data, "a.jpg")).json["photos"][0]
    two = upload(env.editor, second, (data, "a.jpg")).json["photos"][0]
    assert one["url"] == two["url"]
    assert upload(env.editor, first, (data, "again.jpg")).status_code == 409

    assert env.editor.delete(f"/api/v1/items/{first}/photos/{one['id']}").status_code == 204
    fetch(env.viewer, two["url"])  # still there for the other item
    assert env.editor.delete(f"/api/v1/items/{second}/photos/{two['id']}").status_code == 204
    assert env.viewer.get(two["url"]).status_code == 404
    assert env.files() == []


# ---- refused uploads leave nothing behind ---------------------------------------------------


def _png_bomb(size: int) -> bytes:
    # Mode "1" keeps making it cheap; the file is tiny, the decoded image is not.
    return encoded("PNG", Image.new("1", (size, size)), optimize=True)


def _truncated_jpeg() -> bytes:
    data = jpeg(_halves((800, 600)))
    return data[: len(data) // 2]


BAD_UPLOADS = {
    "text named .jpg": (b"just some text, not a photo\n" * 20, "notes.jpg", 415),
    "svg": (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<script>alert(1)</script><rect width="10" height="10"/></svg>',
        "drawing.svg",
        415,
    ),
    "svg wrapping a png": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/png;base64,'
        b'iVBORw0KGgo="/></svg>',
        "photo.png",
        415,
    ),
    "html with a jpeg inside": (b"<html><script>alert(1)</script>" + jpeg(), "x.jpg", 415),
    "gif (not accepted)": (encoded("GIF"), "anim.jpg", 415),
    "truncated jpeg": (_truncated_jpeg(), "cut.jpg", 422),
    "empty file": (b"", "empty.jpg", 422),
    "bomb over our limit (64 MP)": (_png_bomb(8000), "bomb.png", 422),
    "bomb in Pillow's warning range (100 MP)": (_png_bomb(10_000), "bomb.png", 422),
    "bomb over Pillow's hard limit (400 MP)": (_png_bomb(20_000), "bomb.png", 422),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_upload_is_refused_and_leaves_no_trace(
    env: PhotoEnv, session: Session, case: str
) -> None:
    data, name, status = BAD_UPLOADS[case]
    item_id = new_item(env.editor)
    # A good photo in the same request must not be kept either: all or none.
    response = upload(env.editor, item_id, (jpeg(), "good.jpg"), (data, name))
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["detail"]
    nothing_left(env, session)


def test_oversized_upload_is_refused_with_413(
    make_env: Callable[..., PhotoEnv], session: Session
) -> None:
    env = make_env(max_upload_mb=1)
    noise = Image.frombytes("RGB", (800, 800), os.urandom(800 * 800 * 3))
    data = encoded("PNG", noise)
    assert len(data) > 1024 * 1024
    response = upload(env.editor, new_item(env.editor), (data, "noise.png"))
    assert response.status_code == 413, response.json
    assert "1 MB" in response.json["detail"]
    nothing_left(env, session)


def test_polyglot_jpeg_is_stored_without_its_payload(env: PhotoEnv) -> None:
    payload = b"<html><script>alert(document.cookie)</script></html>"
    response = upload(env.editor, new_item(env.editor), (jpeg() + payload, "poly.jpg"))
    assert response.status_code == 201, response.json
    photo = response.json["photos"][0]
    for url in (photo["url"], photo["thumbnail_url"]):
        served = fetch(env.viewer, url)
        assert b"<script" not in served.data
        assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_upload_without_files_is_refused(env: PhotoEnv) -> None:
    response = env.editor.post(
        f"/api/v1/items/{new_item(env.editor)}/photos", data={}, content_type="multipart/form-data"
    )
    assert response.status_code == 422


def test_upload_to_a_missing_item_is_404(env: PhotoEnv, session: Session) -> None:
    assert upload(env.editor, 999_999, (jpeg(), "a.jpg")).status_code == 404
    nothing_left(env, session)


# ---- access ---------------------------------------------------------------------------------


def test_viewer_cannot_upload(env: PhotoEnv, session: Session) -> None:
    item_id = new_item(env.editor)
    response = upload(env.viewer, item_id, (jpeg(), "a.jpg"))
    assert response.status_code == 403
    nothing_left(env, session)


def test_anonymous_requests_are_refused_not_redirected(env: PhotoEnv) -> None:
    item_id = new_item(env.editor)
    photo = upload(env.editor, item_id, (jpeg(), "a.jpg")).json["photos"][0]
    anonymous = env.app.test_client()
    for url in (photo["url"], photo["thumbnail_url"]):
        response = anonymous.get(url, headers={"Accept": "image/webp,*/*"})
        assert response.status_code == 401
        assert "Location" not in response.headers
        assert GPS_MARKER.encode() not in response.data
    bad_token = anonymous.get(photo["url"], headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401
    assert anonymous.post(f"/api/v1/items/{item_id}/photos").status_code == 401


def test_signed_in_browser_session_may_fetch_images(env: PhotoEnv) -> None:
    item_id = new_item(env.editor)
    photo = upload(env.editor, item_id, (jpeg(), "a.jpg")).json["photos"][0]
    browser = signed_in(env.app, env.viewer.user.username)
    image = browser.get(photo["url"])
    image.close()
    assert image.status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2Fsecret_key",
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2E%2E",
        "a" * 64 + "-display.webp%2F..%2F..%2Fsecret_key",
        "A" * 64 + "-display.webp",
        "0" * 64 + "-display.webp",  # well formed, but no photo has it
        "0" * 64 + "-original.webp",
        "0" * 64 + "-display.svg",
    ],
)
def test_image_names_cannot_traverse_or_guess(env: PhotoEnv, name: str) -> None:
    response = env.viewer.get(f"/images/{name}")
    assert response.status_code == 404
    assert b"secret" not in response.data


def test_x_accel_redirect_when_configured(make_env: Callable[..., PhotoEnv]) -> None:
    env = make_env(image_storage_method="filesystem", image_accel_prefix="/protected-images/")
    photo = upload(env.editor, new_item(env.editor), (jpeg(), "a.jpg")).json["photos"][0]
    response = fetch(env.viewer, photo["url"])
    name = photo["url"].removeprefix("/images/")
    expected = f"/protected-images/{name[:2]}/{name[2:4]}/{name}"
    assert response.headers["X-Accel-Redirect"] == expected
    assert response.data == b""  # nginx sends the bytes
    assert response.mimetype == "image/webp"
    assert response.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert (env.image_dir / name[:2] / name[2:4] / name).is_file()
    anonymous = env.app.test_client().get(photo["url"])
    assert anonymous.status_code == 401
    assert "X-Accel-Redirect" not in anonymous.headers


def test_conditional_request_gets_304(env: PhotoEnv) -> None:
    photo = upload(env.editor, new_item(env.editor), (jpeg(), "a.jpg")).json["photos"][0]
    first = fetch(env.viewer, photo["url"])
    again = env.viewer.get(photo["url"], headers={"If-None-Match": first.headers["ETag"]})
    again.close()
    assert again.status_code == 304


def test_files_are_sharded_and_named_by_content_hash(make_env: Callable[..., PhotoEnv]) -> None:
    env = make_env(image_storage_method="filesystem")
    photo = upload(env.editor, new_item(env.editor), (jpeg(), "a.jpg")).json["photos"][0]
    key = photo["url"].removeprefix("/images/").split("-")[0]
    assert [path.relative_to(env.image_dir).as_posix() for path in env.files()] == [
        f"{key[:2]}/{key[2:4]}/{key}-display.webp",
        f"{key[:2]}/{key[2:4]}/{key}-thumb.webp",
    ]


# ---- migrate and gc -------------------------------------------------------------------------


def _cli(settings: Settings, *args: str) -> Any:
    env = {
        "INVENTORY_DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": settings.secret_key,
        "IMAGE_DIR": str(settings.images_path),
        "IMAGE_STORAGE_METHOD": settings.image_storage_method,
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _all_bytes(env: PhotoEnv, photos: list[dict[str, Any]]) -> dict[str, bytes]:
    return {
        url: fetch(env.viewer, url).data
        for photo in photos
        for url in (photo["url"], photo["thumbnail_url"])
    }


def test_migrate_back_and_forth_keeps_every_photo(
    make_env: Callable[..., PhotoEnv], session: Session, tmp_path: Path
) -> None:
    image_dir = tmp_path / "shared-images"
    on_disk = make_env(image_storage_method="filesystem", image_dir=image_dir)
    in_db = make_env(image_storage_method="database", image_dir=image_dir)
    items = [new_item(on_disk.editor, f"thing {n}") for n in range(2)]
    uploaded = [
        *upload(on_disk.editor, items[0], (jpeg(), "a.jpg"), (encoded("PNG"), "b.png")).json[
            "photos"
        ],
        *upload(on_disk.editor, items[1], (jpeg(_halves((640, 480)), 6), "c.jpg")).json["photos"],
    ]
    before = _all_bytes(on_disk, uploaded)

    result = _cli(on_disk.settings, "images", "migrate", "--to", "database")
    assert result.exit_code == 0, result.output
    assert "6 copied" in result.stdout
    assert on_disk.files() == []  # moved, not copied
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ImageBlob)) == 6
    assert _all_bytes(in_db, uploaded) == before

    result = _cli(in_db.settings, "images", "migrate", "--to", "filesystem")
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ImageBlob)) == 0
    assert len(on_disk.files()) == 6
    assert _all_bytes(on_disk, uploaded) == before


def test_migrate_is_resumable(make_env: Callable[..., PhotoEnv], session: Session) -> None:
    env = make_env(image_storage_method="filesystem")
    upload(env.editor, new_item(env.editor), (jpeg(), "a.jpg"))
    source, target = FilesystemStore(env.image_dir), DatabaseStore(session)
    first = maintenance.migrate_images(
        session=session, source=source, target=target, keep_source=True
    )
    again = maintenance.migrate_images(session=session, source=source, target=target)
    assert (first.copied, again.copied, again.already_there) == (2, 0, 2)
    assert again.removed_from_source == 2
    assert env.files() == []


def test_gc_removes_only_files_no_photo_refers_to(
    make_env: Callable[..., PhotoEnv], session: Session
) -> None:
    env = make_env(image_storage_method="filesystem")
    kept = upload(env.editor, new_item(env.editor), (jpeg(), "a.jpg")).json["photos"][0]
    orphan_key = "f" * 64
    store = FilesystemStore(env.image_dir)
    for name in (f"{orphan_key}-display.webp", f"{orphan_key}-thumb.webp"):
        store.put(name, b"orphan")
    DatabaseStore(session).put(f"{'e' * 64}-thumb.webp", b"orphan blob")
    session.commit()
    stray = env.image_dir / "ff" / "ff" / f".{orphan_key}-thumb.webp.1.2.tmp"
    stray.write_bytes(b"half")
    not_ours = env.image_dir / "README.txt"
    not_ours.write_text("leave me")
    young = _cli(env.settings, "images", "gc")
    assert young.exit_code == 0, young.output
    assert "filesystem: removed 0" in young.stdout  # too young: may be an upload in progress
    assert "database: removed 1" in young.stdout  # uncommitted blobs are invisible: no wait
    for path in env.files():
        os.utime(path, (1, 1))

    result = _cli(env.settings, "images", "gc")

    assert result.exit_code == 0, result.output
    assert "filesystem: removed 2" in result.stdout
    names = {path.name for path in env.files()}
    assert names == {
        "README.txt",
        *(u.removeprefix("/images/") for u in (kept["url"], kept["thumbnail_url"])),
    }
    fetch(env.viewer, kept["url"])
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ImageBlob)) == 0


def test_openapi_documents_the_upload(env: PhotoEnv) -> None:
    spec = env.viewer.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/items/{item_id}/photos"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
