"""QR labels: what each label says, and reading a label back from a photo."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.catalog.tree import LocationTree
from inventory.db.models import Item, Location
from inventory.errors import InvalidInput

MAX_LABELS = 200
_ITEM_PATH = re.compile(r"^/items/(\d{1,10})$")
_LOCATION_QUERY = re.compile(r"(?:^|&)location_id=(\d{1,10})(?:&|$)")


@dataclass(frozen=True)
class Label:
    kind: str  # "item" or "location"
    id: int
    code: str  # the ID printed beside the QR: the asset ID, or L-<id> for a location
    title: str
    subtitle: str


def labels_for(*, session: Session, item_ids: list[int], location_ids: list[int]) -> list[Label]:
    if len(item_ids) + len(location_ids) > MAX_LABELS:
        raise InvalidInput.field("item", f"at most {MAX_LABELS} labels per sheet")
    tree = LocationTree.load(session)
    items = session.scalars(select(Item).where(Item.id.in_(item_ids)).order_by(Item.asset_id))
    places = session.scalars(select(Location).where(Location.id.in_(location_ids)))
    return [
        *(
            Label("item", item.id, item.asset_id, item.name, tree.path(item.location_id))
            for item in items
        ),
        *(
            Label("location", place.id, f"L-{place.id}", place.name, tree.path(place.id))
            for place in sorted(places, key=lambda p: tree.path(p.id))
        ),
    ]


def read_label(image: bytes) -> str | None:
    """The text of the first QR code in a photo, or None when there is none."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as picture:
            picture.draft("L", (2000, 2000))  # a phone photo need not be decoded in full
            results = zxingcpp.read_barcodes(picture.convert("L"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise InvalidInput.field("photo", "is not an image this app can read") from None
    return results[0].text if results else None


def target_of(text: str, host: str) -> str | None:
    """The local path a scanned label points to (/items/N or /items?location_id=N), if any."""
    parts = urlsplit(text.strip())
    if parts.netloc and parts.netloc != host:
        return None
    if _ITEM_PATH.match(parts.path):
        return parts.path
    match = _LOCATION_QUERY.search(parts.query)
    if parts.path == "/items" and match:
        return f"/items?location_id={match.group(1)}"
    return None
