"""Snipe-IT: its asset CSV (the custom asset report, Reports › Custom Asset Report, or the
asset list's export), with English column names as Snipe-IT writes them.

Assets are matched by their asset tag ("snipeit:<tag>"); the tag itself is kept as a custom
field, since Snipe-IT's tags are free text and ours look like 000-123.
"""

from __future__ import annotations

from typing import Any

from inventory.errors import InvalidInput
from inventory.imports.homebox import _add_field
from inventory.imports.source import RowError, Source, SourceRow
from inventory.imports.tables import Table
from inventory.imports.values import CellError, number_text, parse_date, parse_number

PREFIX = "snipeit:"
TAG = "Asset Tag"
# Column (any of these spellings) → our field.
FIELDS = {
    "name": ("Asset Name", "Name"),
    "model_name": ("Model",),
    "model": ("Model No.", "Model Number"),
    "manufacturer": ("Manufacturer",),
    "serial_number": ("Serial", "Serial Number"),
    "purchase_date": ("Purchased", "Purchase Date"),
    "purchase_price": ("Cost", "Purchase Cost"),
    "vendor": ("Supplier",),
    "location": ("Location",),
    "category": ("Category",),
    "warranty_expires": ("Warranty Expires",),
    "notes": ("Notes",),
}
# Computed or personal columns that are not the asset's own data.
SKIPPED = frozenset(
    {
        "ID",
        "Current Value",
        "Diff",
        "Fully Depreciated",
        "Address",
        "City",
        "State",
        "Country",
        "Zip",
        "Username",
        "Email",
        "Employee No.",
        "Manager",
        "Department",
        "Title",
        "Phone",
        "Created At",
        "Updated at",
        "Deleted",
        "Type",
        "Warranty",
        "Default Location",
        "Last Audit",
        "Next Audit Date",
        "Days Without Acceptance",
    }
)
CUSTOM = {
    "Status": "Status",
    "Company": "Company",
    "Order Number": "Order number",
    "Checked Out": "Checked out to",
    "EOL": "End of life",
    "URL": "Link",
}


def matches(header: list[str]) -> bool:
    return TAG in header and any(
        name in header for name in ("Asset Name", "Name", "Model", "Serial")
    )


def read(table: Table) -> Source:
    header, rows = table
    if TAG not in header:
        raise InvalidInput.field("file", f"a Snipe-IT asset export needs an {TAG!r} column")
    used = {spelling for spellings in FIELDS.values() for spelling in spellings} | {TAG}
    source = Source(
        format="snipeit",
        rows=[],
        key="import_ref",
        ignored_columns=[name for name in header if name in SKIPPED],
    )
    for line, cells in rows:
        source.rows.append(_row(line, cells, header, used))
    return source


def _cell(cells: dict[str, str], field: str) -> str:
    for spelling in FIELDS[field]:
        if cells.get(spelling, "").strip():
            return cells[spelling].strip()
    return ""


def _row(line: int, cells: dict[str, str], header: list[str], used: set[str]) -> SourceRow:
    errors: list[RowError] = []
    tag = cells.get(TAG, "").strip()
    model_name = _cell(cells, "model_name")
    fields: dict[str, Any] = {
        "name": _cell(cells, "name") or model_name or tag,
        "manufacturer": _cell(cells, "manufacturer"),
        "model": _cell(cells, "model") or model_name,
        "serial_number": _cell(cells, "serial_number"),
        "vendor": _cell(cells, "vendor"),
        "notes": _cell(cells, "notes"),
        "location": _cell(cells, "location").replace("/", "-") or None,
        "tags": [category] if (category := _cell(cells, "category").replace(",", " ")) else [],
    }
    for field in ("purchase_date", "warranty_expires"):
        try:
            # Snipe-IT may follow the warranty date with "(12 months)": the date leads.
            day = parse_date(_cell(cells, field).split(" ")[0])
            fields[field] = day.isoformat() if day else None
        except CellError as exc:
            errors.append(RowError(line, FIELDS[field][0], str(exc)))
    try:
        price = parse_number(_cell(cells, "purchase_price"), thousands=",")
        fields["purchase_price"] = number_text(price) or None
    except CellError as exc:
        errors.append(RowError(line, "Cost", str(exc)))
    custom: list[dict[str, Any]] = []
    _add_field(custom, "Snipe-IT asset tag", "text", tag)
    for column in header:
        value = cells.get(column, "").strip()
        if column in used or column in SKIPPED or not value:
            continue
        _add_field(custom, CUSTOM.get(column, column), "text", value)
    fields["custom_fields"] = custom
    return SourceRow(
        line=line, fields=fields, import_ref=PREFIX + tag if tag else None, errors=errors
    )
