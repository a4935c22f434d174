"""Any spreadsheet (CSV or XLSX): its columns mapped onto item fields, a mapping suggested
from the headers and remembered per set of headers, so the next file of that shape needs none.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from inventory.catalog.fields import FIELD_LABELS, FIELD_NAMES, ITEM_FIELDS
from inventory.db.models import ImportMapping
from inventory.errors import InvalidInput
from inventory.imports.homebox import _add_field
from inventory.imports.source import RowError, Source, SourceRow
from inventory.imports.tables import Table
from inventory.imports.values import CellError, number_text, parse_bool, parse_date, parse_number

PREFIX = "sheet:"
KEY = "key"
CUSTOM = "custom_field"
IGNORE = "ignore"
_KINDS = {field.name: field.kind for field in ITEM_FIELDS}
# What a column can become, in the order the mapping form offers them.
TARGETS: dict[str, str] = {
    "name": FIELD_LABELS["name"],
    "asset_id": "Asset ID (000-123): updates that item",
    KEY: "Row key: updates the item imported with it before",
    "location": "Location (Home/Garage/Shelf)",
    "tags": "Tags (separated by , or ;)",
    **{name: FIELD_LABELS[name] for name in FIELD_NAMES if name not in ("name", "custom_fields")},
    CUSTOM: "A custom field named after the column",
    IGNORE: "Ignore this column",
}
_SYNONYMS = {
    "item": "name",
    "title": "name",
    "thing": "name",
    "product": "name",
    "qty": "quantity",
    "amount": "quantity",
    "count": "quantity",
    "place": "location",
    "room": "location",
    "where": "location",
    "storage": "location",
    "category": "tags",
    "categories": "tags",
    "labels": "tags",
    "label": "tags",
    "tag": "tags",
    "brand": "manufacturer",
    "make": "manufacturer",
    "maker": "manufacturer",
    "serial": "serial_number",
    "serialno": "serial_number",
    "sn": "serial_number",
    "price": "purchase_price",
    "cost": "purchase_price",
    "value": "purchase_price",
    "bought": "purchase_date",
    "purchased": "purchase_date",
    "date": "purchase_date",
    "shop": "vendor",
    "store": "vendor",
    "supplier": "vendor",
    "seller": "vendor",
    "warranty": "warranty_expires",
    "comment": "notes",
    "comments": "notes",
    "remarks": "notes",
    "assetid": "asset_id",
    "assettag": "asset_id",
    "id": KEY,
    "sku": KEY,
}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


_BY_NAME = {_norm(name): name for name in TARGETS if name not in (CUSTOM, IGNORE)}
_BY_NAME.update(
    {_norm(label): name for name, label in FIELD_LABELS.items() if name != "custom_fields"}
)


def header_key(header: list[str]) -> str:
    """The same set of column names (any order, any case) gives the same key."""
    names = sorted({name.strip().lower() for name in header if name.strip()})
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def suggest(header: list[str]) -> dict[str, str]:
    """A first guess: columns named like a field map onto it, others become custom fields."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in header:
        target = _BY_NAME.get(_norm(column)) or _SYNONYMS.get(_norm(column))
        if target and target not in used:
            mapping[column] = target
            used.add(target)
        else:
            mapping[column] = CUSTOM
    return mapping


def remembered(*, session: Session, header: list[str]) -> dict[str, str] | None:
    """The mapping last used for a file with these headers, if any (and still fitting)."""
    # TODO(collections): look up the mapping of the current collection only.
    stored = session.scalar(
        select(ImportMapping).where(ImportMapping.header_key == header_key(header))
    )
    if stored is None:
        return None
    by_lower = {column.strip().lower(): target for column, target in stored.mapping.items()}
    mapping = {column: by_lower.get(column.strip().lower(), IGNORE) for column in header}
    return mapping if not _problems(header, mapping) else None


def remember(*, session: Session, header: list[str], mapping: dict[str, str]) -> None:
    """Keep the mapping for the next file with these headers (flushed, not committed)."""
    # TODO(collections): key by (collection_id, header_key).
    session.execute(
        insert(ImportMapping)
        .values(header_key=header_key(header), headers=list(header), mapping=mapping)
        .on_conflict_do_update(
            index_elements=[ImportMapping.header_key],
            set_={"mapping": mapping, "headers": list(header), "updated_at": func.now()},
        )
    )


def check(header: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """The mapping for exactly these columns, or InvalidInput naming what is wrong."""
    problems = _problems(header, mapping)
    if problems:
        raise InvalidInput(
            "the column mapping does not fit the file: " + "; ".join(problems),
            errors={"mapping": problems},
        )
    return {column: mapping[column] for column in header}


def _problems(header: list[str], mapping: dict[str, str]) -> list[str]:
    problems = []
    unknown = [column for column in mapping if column not in header]
    if unknown:
        problems.append(f"the file has no column(s) {', '.join(map(repr, unknown))}")
    missing = [column for column in header if column not in mapping]
    if missing:
        problems.append(f"say what to do with column(s) {', '.join(map(repr, missing))}")
    for column, target in mapping.items():
        if target not in TARGETS:
            problems.append(f"column {column!r}: {target!r} is not one of {', '.join(TARGETS)}")
    targets = [t for t in mapping.values() if t not in (CUSTOM, IGNORE)]
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        problems.append(f"more than one column is mapped to {', '.join(twice)}")
    if "name" not in targets:
        problems.append("map one column to the name")
    return problems


def read(table: Table, mapping: dict[str, str]) -> Source:
    header, rows = table
    mapping = check(header, mapping)
    source = Source(
        format="spreadsheet",
        rows=[],
        key="asset_id" if "asset_id" in mapping.values() else "import_ref",
        ignored_columns=[column for column, target in mapping.items() if target == IGNORE],
    )
    for line, cells in rows:
        source.rows.append(_row(line, cells, mapping))
    return source


def _row(line: int, cells: dict[str, str], mapping: dict[str, str]) -> SourceRow:
    fields: dict[str, Any] = {}
    custom: list[dict[str, Any]] = []
    errors: list[RowError] = []
    ref = None
    for column, target in mapping.items():
        value = (cells.get(column) or "").strip()
        try:
            if target == KEY:
                ref = PREFIX + value if value else None
            elif target == CUSTOM:
                _add_field(custom, column, "text", value)
            elif target != IGNORE:
                _put(fields, target, value)
        except CellError as exc:
            errors.append(RowError(line, column, str(exc)))
    if custom:
        fields["custom_fields"] = custom
    return SourceRow(line=line, fields=fields, import_ref=ref, errors=errors)


def _put(fields: dict[str, Any], target: str, value: str) -> None:
    if target == "tags":
        fields["tags"] = [tag for tag in re.split(r"[,;]", value) if tag.strip()]
    elif target == "location":
        fields["location"] = value or None
    elif target == "asset_id":
        if value:
            fields["asset_id"] = value
    elif _KINDS[target] == "date":
        day = parse_date(value)
        fields[target] = day.isoformat() if day else None
    elif _KINDS[target] == "flag":
        fields[target] = parse_bool(value)
    elif _KINDS[target] == "amount":
        number = parse_number(value)
        if number is not None:
            fields[target] = number_text(number)
        elif target != "quantity":
            fields[target] = None
    elif value:
        fields[target] = value
