"""Photo processing and the file store, without a database: real images made with Pillow."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms

from inventory.errors import InvalidInput, NotFound, UnsupportedMediaType
from inventory.photos.processing import (
    DISPLAY_SIZE,
    THUMBNAIL_SIZE,
    content_key,
    decode,
    process_photo,
)
from inventory.photos.store import FilesystemStore, check_name, file_name

RED, BLUE = (220, 20, 20), (20, 20, 220)


def _quadrants(size: tuple[int, int] = (400, 200)) -> Image.Image:
    """Top-left red, everything else blue: shows any turn or mirror."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1] // 2))
    return image


def _jpeg(image: Image.Image, orientation: int = 1, **options: object) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "S"
    gps[ExifTags.GPS.GPSLatitude] = (33.0, 51.0, 54.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), quality=95, **options)
    return buffer.getvalue()


def _red_corner(image: Image.Image) -> str:
    rgb = image.convert("RGB")
    width, height = rgb.size
    corners = {
        "top-left": (width // 8, height // 8),
        "top-right": (width - 1 - width // 8, height // 8),
        "bottom-left": (width // 8, height - 1 - height // 8),
        "bottom-right": (width - 1 - width // 8, height - 1 - height // 8),
    }
    [found] = [name for name, xy in corners.items() if rgb.getpixel(xy)[0] > 150]  # type: ignore[index]
    return found


# What a viewer shows for each EXIF orientation, given the red quarter stored top-left.
ORIENTATIONS = {
    1: ("top-left", False),
    2: ("top-right", False),
    3: ("bottom-right", False),
    4: ("bottom-left", False),
    5: ("top-left", True),
    6: ("top-right", True),
    7: ("bottom-right", True),
    8: ("bottom-left", True),
}


@pytest.mark.parametrize("orientation", list(ORIENTATIONS))
def test_every_exif_orientation_comes_out_upright(orientation: int) -> None:
    corner, turned = ORIENTATIONS[orientation]
    result = process_photo(_jpeg(_quadrants(), orientation))
    display = Image.open(io.BytesIO(result.display))
    assert display.size == ((200, 400) if turned else (400, 200))
    assert (result.width, result.height) == display.size
    assert _red_corner(display) == corner


def test_no_metadata_survives_in_any_size() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = _jpeg(_quadrants(), 6, icc_profile=profile)
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    result = process_photo(source)
    for data in (result.display, result.thumbnail):
        image = Image.open(io.BytesIO(data))
        assert len(image.getexif()) == 0
        assert not {"exif", "icc_profile", "xmp"} & set(image.info)


def test_sizes_are_bounded_and_never_upscaled() -> None:
    big = process_photo(_jpeg(_quadrants((4000, 3000))))
    assert (big.width, big.height) == (DISPLAY_SIZE, 1200)
    assert Image.open(io.BytesIO(big.thumbnail)).size == (THUMBNAIL_SIZE, 240)
    small = process_photo(_jpeg(_quadrants((100, 50))))
    assert (small.width, small.height) == (100, 50)
    assert Image.open(io.BytesIO(small.thumbnail)).size == (100, 50)


def test_draft_mode_gives_the_same_sizes_with_a_smaller_decode() -> None:
    data = _jpeg(_quadrants((4000, 3000)))
    assert decode(data, draft=True).size == (2000, 1500)  # scaled while decoding
    assert decode(data, draft=False).size == (4000, 3000)
    drafted, full = process_photo(data, draft=True), process_photo(data, draft=False)
    assert (drafted.width, drafted.height) == (full.width, full.height)
    assert _red_corner(Image.open(io.BytesIO(drafted.display))) == "top-left"


def test_jpeg_output_flattens_transparency() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(buffer, "PNG")
    result = process_photo(buffer.getvalue(), output_format="jpg")
    display = Image.open(io.BytesIO(result.display))
    assert (display.format, display.mode) == ("JPEG", "RGB")
    assert display.getpixel((25, 25))[0] > 240  # type: ignore[index]


@pytest.mark.parametrize("mode", ["CMYK", "L", "P", "LA", "I;16"])
def test_unusual_pixel_modes_are_converted(mode: str) -> None:
    buffer = io.BytesIO()
    Image.new(mode, (40, 30)).save(buffer, "JPEG" if mode in {"CMYK", "L"} else "PNG")
    result = process_photo(buffer.getvalue())
    assert Image.open(io.BytesIO(result.display)).mode in {"RGB", "RGBA"}


def test_refusals_name_the_problem() -> None:
    with pytest.raises(UnsupportedMediaType, match="not a JPEG, PNG, WebP or HEIC"):
        process_photo(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    truncated = _jpeg(_quadrants((800, 600)))
    with pytest.raises(InvalidInput, match="damaged or incomplete"):
        process_photo(truncated[: len(truncated) // 2])
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, "PNG")
    with pytest.raises(InvalidInput, match="too many pixels"):
        process_photo(bomb.getvalue())


def test_key_is_the_content_hash() -> None:
    data = _jpeg(_quadrants())
    assert content_key(data) == process_photo(data).key
    assert content_key(data) != content_key(data + b"\0")
    assert len(content_key(data)) == 64


# ---- names and the file store ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../secret_key",
        "..",
        "a" * 64 + "-display.webp/../../x",
        "/etc/passwd",
        "a" * 63 + "-display.webp",
        "A" * 64 + "-display.webp",
        "a" * 64 + "-display.webp\n",
        "a" * 64 + "-display.png",
        "a" * 64 + "-orig.webp",
        "a" * 64 + "\\..\\display.webp",
    ],
)
def test_names_outside_the_pattern_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        check_name(name)
    with pytest.raises(NotFound):
        FilesystemStore(tmp_path).path(name)


def test_store_writes_atomically_into_shards(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path / "images")
    name = file_name("ab" + "c" * 62, "thumb", "webp")
    assert store.put(name, b"bytes") is True
    assert store.put(name, b"bytes") is False  # content-addressed: already there
    path = store.path(name)
    assert path.relative_to(tmp_path / "images").parts == ("ab", "cc", name)
    assert path.read_bytes() == b"bytes"
    assert [entry.name for entry in path.parent.iterdir()] == [name]  # no temp file left
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    store.delete(name)
    store.delete(name)  # missing is fine
    assert store.get(name) is None
