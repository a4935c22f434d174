"""Our own CSV (catalog.transfer's export): the lossless round trip, matched by asset ID."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import ValidationError

from inventory.catalog.fields import ITEM_FIELDS
from inventory.catalog.transfer import COLUMNS
from inventory.errors import InvalidInput
from inventory.imports.source import RowError, Source, SourceRow
from inventory.imports.tables import Table

_FIELDS = {field.name: field for field in ITEM_FIELDS}


def matches(header: list[str]) -> bool:
    return "name" in header and not any(name.startswith("HB.") for name in header)


def read(table: Table) -> Source:
    header, rows = table
    if "name" not in header:
        raise InvalidInput.field("file", "needs a header row with at least a 'name' column")
    columns = [name for name in header if name in COLUMNS]
    source = Source(
        format="inventory",
        rows=[],
        key="asset_id",
        ignored_columns=[name for name in header if name not in COLUMNS],
    )
    for line, row in rows:
        try:
            source.rows.append(SourceRow(line=line, fields=row_input(row, columns)))
        except ValidationError as exc:
            errors = _errors(line, exc.messages)
            source.rows.append(SourceRow(line=line, fields={}, errors=errors))
    return source


def row_input(row: dict[str, str], columns: list[str]) -> dict[str, Any]:
    """CSV cells in the shape the item schema expects; an empty cell clears a field that may
    be empty (a date, a price, the tags) and leaves any other unchanged."""
    fields: dict[str, Any] = {}
    for name in columns:
        value = (row.get(name) or "").strip()
        if name == "location":
            fields[name] = value or None
        elif name == "tags":
            fields[name] = [tag for tag in (part.strip() for part in value.split(",")) if tag]
        elif name not in _FIELDS:
            if value:
                fields[name] = value
        elif _FIELDS[name].kind == "custom_fields":
            fields[name] = _json_cell(value) if value else []
        elif value:
            fields[name] = value
        elif _FIELDS[name].nullable:
            fields[name] = None
    return fields


def _json_cell(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise ValidationError({"custom_fields": ["is not valid JSON"]}) from None


def _errors(line: int, messages: Any) -> list[RowError]:
    if not isinstance(messages, dict):
        return [RowError(line, None, str(messages))]
    return [RowError(line, str(name), "; ".join(map(str, msgs))) for name, msgs in messages.items()]
