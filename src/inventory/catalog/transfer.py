"""CSV export: every item, one per row, in the columns our import reads back unchanged
(the lossless round trip; the import itself lives in inventory.imports)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.catalog.fields import FIELD_NAMES, ITEM_FIELDS, ItemField
from inventory.catalog.history import json_value
from inventory.catalog.tree import PATH_SEPARATOR, LocationTree
from inventory.db.models import Item

# Import matches columns by header; this order (name first) is for people reading the file.
COLUMNS = ("asset_id", "name", "location", "tags", *(n for n in FIELD_NAMES if n != "name"))


def export_rows(*, session: Session) -> Iterator[dict[str, str]]:
    tree = LocationTree.load(session)
    for item in session.scalars(
        select(Item).order_by(Item.asset_id).execution_options(yield_per=500)
    ):
        row = {field.name: _cell(field, getattr(item, field.name)) for field in ITEM_FIELDS}
        row["asset_id"] = item.asset_id
        row["location"] = PATH_SEPARATOR.join(tree.names(item.location_id))
        row["tags"] = ", ".join(tag.name for tag in item.tags)
        yield row


def _cell(field: ItemField, value: Any) -> str:
    if value is None:
        return ""
    if field.kind == "flag":
        return "true" if value else "false"
    if field.kind == "custom_fields":
        return json.dumps(value) if value else ""
    return str(json_value(value))


def export_csv(*, session: Session) -> Iterator[str]:
    """The CSV text in chunks, header first, so large exports stream."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in export_rows(session=session):
        writer.writerow(row)
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
