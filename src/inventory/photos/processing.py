"""Turn an uploaded photo into the stored sizes: checked by content, upright, no metadata.

`process_photo(data)` is the whole contract: it accepts only bytes that Pillow opens *and*
fully decodes as JPEG, PNG, WebP or HEIC/HEIF, refuses decompression bombs before decoding,
applies the EXIF orientation, converts to sRGB, and returns a display size (longest side
1600 px) and a thumbnail (320 px) encoded afresh, so nothing of the original file (EXIF, GPS,
XMP, ICC, trailing bytes of a polyglot) survives.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from inventory.errors import InvalidInput, UnsupportedMediaType

DISPLAY_SIZE = 1600
THUMBNAIL_SIZE = 320
# A 12 MP phone photo is 12e6; panoramas reach ~40e6. Anything larger is refused unread.
MAX_PIXELS = 50_000_000
# Bumped when the output changes, so content-addressed names never serve stale bytes.
PIPELINE_VERSION = b"photos-v1\0"
OutputFormat = Literal["webp", "jpg"]
# Pillow plugin IDs we let near untrusted bytes (never EPS, PSD, SVG-ish or anything exotic).
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
# What those plugins report once open; MPO is a JPEG with extra frames (many phones).
_ACCEPTED = frozenset({"JPEG", "MPO", "PNG", "WEBP", "HEIF"})
_ENCODE: dict[str, tuple[str, dict[str, Any]]] = {
    "webp": ("WEBP", {"method": 4}),
    "jpg": ("JPEG", {"optimize": True}),
}
_QUALITY = {DISPLAY_SIZE: 82, THUMBNAIL_SIZE: 75}
_HEIF_REGISTERED = False


@dataclass(frozen=True)
class ProcessedPhoto:
    key: str
    format: OutputFormat
    width: int
    height: int
    display: bytes
    thumbnail: bytes


def content_key(data: bytes) -> str:
    """The name stem of a photo's files: SHA-256 of the upload and the pipeline version."""
    return hashlib.sha256(PIPELINE_VERSION + data).hexdigest()


def process_photo(
    data: bytes, *, output_format: OutputFormat = "webp", draft: bool = True
) -> ProcessedPhoto:
    """Validate and convert one upload. Raises UnsupportedMediaType (415) for anything that
    is not one of the accepted formats, InvalidInput (422) for damaged or oversized images.
    `draft` lets the JPEG decoder scale down while decoding (bounded memory)."""
    image = decode(data, draft=draft)
    display = _fit(image, DISPLAY_SIZE)
    thumbnail = _fit(display, THUMBNAIL_SIZE)
    return ProcessedPhoto(
        key=content_key(data),
        format=output_format,
        width=display.width,
        height=display.height,
        display=encode(display, output_format, _QUALITY[DISPLAY_SIZE]),
        thumbnail=encode(thumbnail, output_format, _QUALITY[THUMBNAIL_SIZE]),
    )


def decode(data: bytes, *, draft: bool = True) -> Image.Image:
    """Open, check the header, decode every byte; upright and in RGB(A) sRGB."""
    _register_heif()
    image = _open(data)
    with image:
        _check_pixels(image.size)
        if draft and image.format in {"JPEG", "MPO"}:
            image.draft("RGB", _draft_size(image.size))
        _load(image)
        upright = ImageOps.exif_transpose(image)
        return _to_srgb(upright, image.info.get("icc_profile"))


def encode(image: Image.Image, output_format: OutputFormat, quality: int) -> bytes:
    """Encode with no metadata at all: only pixels go in (no exif, icc_profile or xmp)."""
    plugin, options = _ENCODE[output_format]
    if plugin == "JPEG" and image.mode != "RGB":
        image = _flatten(image)
    buffer = io.BytesIO()
    image.save(buffer, plugin, quality=quality, **options)
    return buffer.getvalue()


def _register_heif() -> None:
    # Imported on first use: the plugin loads libheif, which the rest of the app never needs.
    global _HEIF_REGISTERED
    if not _HEIF_REGISTERED:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _HEIF_REGISTERED = True


def _open(data: bytes) -> ImageFile.ImageFile:
    try:
        # Pillow warns (and later raises) on huge images; both mean the same here: refuse.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _too_many_pixels() from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _unsupported() from None
    if image.format not in _ACCEPTED:
        image.close()
        raise _unsupported()
    return image


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise InvalidInput.field("photos", "the image has no pixels")
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(f" ({width}×{height})")


def _draft_size(size: tuple[int, int]) -> tuple[int, int]:
    # The decoder scales by 1/2, 1/4 or 1/8 and stays at or above this: never below display.
    scale = min(1.0, DISPLAY_SIZE / max(size))
    return max(1, math.ceil(size[0] * scale)), max(1, math.ceil(size[1] * scale))


def _load(image: ImageFile.ImageFile) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _too_many_pixels() from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidInput.field(
            "photos", f"the image is damaged or incomplete and cannot be decoded ({exc})"
        ) from None


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """RGB or RGBA pixels in sRGB, so dropping the ICC profile keeps the colours."""
    has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
    mode = "RGBA" if has_alpha else "RGB"
    if icc_profile and image.mode in {"RGB", "RGBA", "CMYK", "L"}:
        converted = _apply_profile(image, icc_profile, mode)
        if converted is not None:
            return converted
    return image if image.mode == mode else image.convert(mode)


def _apply_profile(image: Image.Image, icc_profile: bytes, mode: str) -> Image.Image | None:
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        target = ImageCms.createProfile("sRGB")
        result = ImageCms.profileToProfile(image, source, target, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None  # a broken profile: keep the pixels as they are rather than refuse
    return result


def _fit(image: Image.Image, longest: int) -> Image.Image:
    """At most `longest` px on the long side; never enlarged (the input is returned)."""
    scale = longest / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap: a cheap box reduction first, LANCZOS for the last step (same look).
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _flatten(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _unsupported() -> UnsupportedMediaType:
    return UnsupportedMediaType(
        "photos: not a JPEG, PNG, WebP or HEIC/HEIF image (checked by content, not by name)",
        errors={"photos": ["not a JPEG, PNG, WebP or HEIC/HEIF image"]},
    )


def _too_many_pixels(detail: str = "") -> InvalidInput:
    return InvalidInput.field(
        "photos",
        f"the image has too many pixels{detail}; the limit is {MAX_PIXELS // 1_000_000} megapixels",
    )
