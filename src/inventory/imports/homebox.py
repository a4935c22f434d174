"""Homebox: its CSV export (`HB.*` columns) and its backup zip (manifest.json, one JSON file
per table, attachments/<id>), read as Homebox's own code writes them
(sysadminsmedia/homebox, backend/internal/core/services/reporting and service_exports.go).

Items are matched by Homebox's import_ref ("homebox:<ref>"), so a re-import updates them.
Fields we have no column for (insured, sold details, warranty details, low stock threshold,
the item's Homebox link, the item it sits inside) become typed custom fields.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from inventory.catalog.fields import MAX_CUSTOM_FIELDS
from inventory.catalog.item_queries import format_asset_id
from inventory.errors import InvalidInput
from inventory.imports.source import PhotoFile, RowError, Source, SourceRow
from inventory.imports.tables import Table
from inventory.imports.values import (
    CellError,
    number_text,
    parse_bool,
    parse_date,
    parse_number,
    split_list,
)

PREFIX = "homebox:"
# Homebox's export, in its column order (ExportCSVRow); HB.field.<name> columns follow,
# sorted by name. The second spelling of a pair is the older one Homebox still reads.
COLUMNS = (
    "HB.purchase_date",
    "HB.warranty_expires",
    "HB.sold_date",
    "HB.import_ref",
    "HB.parent_import_ref",
    "HB.url",
    "HB.name",
    "HB.description",
    "HB.notes",
    "HB.purchase_from",
    "HB.manufacturer",
    "HB.model_number",
    "HB.serial_number",
    "HB.warranty_details",
    "HB.sold_to",
    "HB.sold_notes",
    "HB.location",
    "HB.tags",
    "HB.asset_id",
    "HB.quantity",
    "HB.low_stock_threshold",
    "HB.purchase_price",
    "HB.sold_price",
    "HB.archived",
    "HB.insured",
    "HB.lifetime_warranty",
)
ALIASES = {
    "HB.purchase_time": "HB.purchase_date",
    "HB.sold_time": "HB.sold_date",
    "HB.labels": "HB.tags",
}
FIELD_PREFIX = "HB.field."
SCHEMA_VERSION = 1


def matches(header: list[str]) -> bool:
    return any(name.startswith("HB.") for name in header)


def is_backup(names: list[str]) -> bool:
    return "manifest.json" in names and "entities.json" in names


# ---- CSV -----------------------------------------------------------------------------------


def read_csv(table: Table) -> Source:
    header, rows = table
    known = {ALIASES.get(name, name) for name in header}
    if "HB.name" not in known:
        raise InvalidInput.field("file", "a Homebox CSV needs an HB.name column")
    ignored = [
        name
        for name in header
        if ALIASES.get(name, name) not in COLUMNS and not name.startswith(FIELD_PREFIX)
    ]
    source = Source(format="homebox", rows=[], key="import_ref", ignored_columns=ignored)
    names_by_ref: dict[str, str] = {}
    parents: list[tuple[SourceRow, str]] = []
    for line, raw in rows:
        cells = {ALIASES.get(name, name): value for name, value in raw.items()}
        row = _csv_row(line, cells)
        source.rows.append(row)
        ref = cells.get("HB.import_ref", "").strip()
        if ref:
            names_by_ref[ref] = cells.get("HB.name", "").strip()
        parent = cells.get("HB.parent_import_ref", "").strip()
        if parent:
            parents.append((row, parent))
    for row, parent in parents:
        _add_field(row.fields["custom_fields"], "Inside", "text", names_by_ref.get(parent, parent))
    return source


def _csv_row(line: int, cells: dict[str, str]) -> SourceRow:
    errors: list[RowError] = []

    def convert(column: str, parse: Callable[[str], Any]) -> Any:
        try:
            return parse(cells.get(column, ""))
        except CellError as exc:
            errors.append(RowError(line, column, str(exc)))
            return None

    fields: dict[str, Any] = {"name": cells.get("HB.name", "")}
    for column, name in (
        ("HB.description", "description"),
        ("HB.notes", "notes"),
        ("HB.manufacturer", "manufacturer"),
        ("HB.model_number", "model"),
        ("HB.serial_number", "serial_number"),
        ("HB.purchase_from", "vendor"),
    ):
        if column in cells:
            fields[name] = cells[column]
    if "HB.location" in cells:
        fields["location"] = "/".join(split_list(cells["HB.location"], "/")) or None
    if "HB.tags" in cells:
        fields["tags"] = split_list(cells["HB.tags"], ";")
    asset_id = convert("HB.asset_id", _asset_id)
    if asset_id:
        fields["asset_id"] = asset_id
    quantity = convert("HB.quantity", parse_number)
    if quantity is not None:
        fields["quantity"] = number_text(quantity)
    if "HB.purchase_price" in cells:
        price = convert("HB.purchase_price", parse_number)
        fields["purchase_price"] = number_text(price) if price else None
    for column, name in (
        ("HB.purchase_date", "purchase_date"),
        ("HB.warranty_expires", "warranty_expires"),
    ):
        if column in cells:
            day = convert(column, parse_date)
            fields[name] = day.isoformat() if day else None
    if "HB.archived" in cells:
        fields["archived"] = bool(convert("HB.archived", parse_bool))
    custom: list[dict[str, Any]] = []
    for column, value in cells.items():
        if column.startswith(FIELD_PREFIX) and value != "":
            _add_field(custom, column[len(FIELD_PREFIX) :], "text", value)
    if convert("HB.insured", parse_bool):
        _add_field(custom, "Insured", "boolean", True)
    if convert("HB.lifetime_warranty", parse_bool):
        _add_field(custom, "Lifetime warranty", "boolean", True)
    _add_field(custom, "Warranty details", "text", cells.get("HB.warranty_details", ""))
    _add_field(custom, "Sold to", "text", cells.get("HB.sold_to", ""))
    sold = convert("HB.sold_date", parse_date)
    _add_field(custom, "Sold on", "date", sold.isoformat() if sold else "")
    _add_field(custom, "Sold for", "number", _number(convert("HB.sold_price", parse_number)))
    _add_field(custom, "Sold notes", "text", cells.get("HB.sold_notes", ""))
    _add_field(
        custom,
        "Low stock threshold",
        "number",
        _number(convert("HB.low_stock_threshold", parse_number)),
    )
    url = cells.get("HB.url", "").strip()
    if url.startswith(("http://", "https://")):
        _add_field(custom, "Homebox link", "url", url)
    fields["custom_fields"] = custom
    ref = cells.get("HB.import_ref", "").strip()
    return SourceRow(
        line=line, fields=fields, import_ref=PREFIX + ref if ref else None, errors=errors
    )


def _asset_id(value: str) -> str | None:
    """Homebox's asset IDs: 1, 000-001, 1000-003 (its number with a dash before the last three)."""
    value = value.strip()
    if not value:
        return None
    digits = value.replace("-", "")
    if not digits.isdigit():
        raise CellError(f"{value!r} is not an asset ID such as 000-123")
    number = int(digits)
    return format_asset_id(number) if number > 0 else None


def _number(value: Any) -> Any:
    if value is None or value == 0:
        return ""
    return int(value) if value == value.to_integral_value() else float(value)


def _add_field(custom: list[dict[str, Any]], name: str, kind: str, value: Any) -> None:
    """Add a custom field unless empty, already there (by name) or one too many."""
    name = " ".join(name.split())[:64]
    if value in ("", None) or not name or len(custom) >= MAX_CUSTOM_FIELDS:
        return
    if any(field["name"].lower() == name.lower() for field in custom):
        return
    custom.append(
        {"name": name, "type": kind, "value": value[:2000] if isinstance(value, str) else value}
    )


# ---- backup zip ----------------------------------------------------------------------------


def read_backup(archive: zipfile.ZipFile) -> Source:
    """A Homebox backup: entities (items and locations), their fields, tags and photos."""
    manifest = _json(archive, "manifest.json", {})
    version = manifest.get("schemaVersion") if isinstance(manifest, dict) else None
    if version != SCHEMA_VERSION:
        raise InvalidInput.field(
            "file",
            f"is a Homebox backup of schema version {version}; this reads version {SCHEMA_VERSION}",
        )
    entities = _table(archive, "entities")
    kinds = {row["id"]: _is_location(row) for row in _table(archive, "entity_types")}
    by_id = {row["id"]: row for row in entities}
    locations = {
        eid for eid, row in by_id.items() if kinds.get(row.get("entity_type_entities"), False)
    }
    tags = {row["id"]: row.get("name", "") for row in _table(archive, "tags")}
    item_tags: dict[Any, list[str]] = {}
    for link in _table(archive, "tag_entities"):
        if link.get("tag_id") in tags:
            item_tags.setdefault(link.get("entity_id"), []).append(tags[link["tag_id"]])
    fields: dict[Any, list[dict[str, Any]]] = {}
    for field_row in _table(archive, "entity_fields"):
        fields.setdefault(field_row.get("entity_fields"), []).append(field_row)
    photos, documents = _attachments(archive)
    source = Source(format="homebox-backup", rows=[], key="import_ref")
    for line, entity in enumerate(entities, start=1):
        if entity["id"] in locations:
            continue
        item = _entity_row(line, entity, by_id, locations, item_tags, fields)
        item.photos = photos.get(entity["id"], [])
        source.rows.append(item)
    if documents:
        source.notes.append(
            f"{documents} attachment(s) that are not photos (manuals, receipts, warranties) were "
            "not imported: this version stores photos only"
        )
    return source


def _is_location(row: dict[str, Any]) -> bool:
    return bool(row.get("is_location", row.get("location_type", False)))


def _json(archive: zipfile.ZipFile, name: str, default: Any) -> Any:
    try:
        with archive.open(name) as handle:
            return json.load(handle)
    except KeyError:
        return default
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput.field("file", f"{name} in the backup is not valid JSON") from None


def _table(archive: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    rows = _json(archive, f"{name}.json", [])
    if not isinstance(rows, list) or not all(
        (isinstance(row, dict) and "id" in row) or name == "tag_entities" for row in rows
    ):
        raise InvalidInput.field("file", f"{name}.json in the backup is not a list of rows")
    return rows


def _attachments(archive: zipfile.ZipFile) -> tuple[dict[str, list[PhotoFile]], int]:
    """Photos by entity id (primary first), and how many other attachments there were."""
    names = set(archive.namelist())
    photos: dict[str, list[tuple[bool, PhotoFile]]] = {}
    documents = 0
    for row in _table(archive, "attachments"):
        owner = row.get("entity_attachments")
        if owner is None or row.get("type") == "thumbnail":
            continue
        if row.get("type") != "photo":
            documents += 1
            continue
        blob = f"attachments/{row['id']}"
        if blob not in names:
            continue
        title = str(row.get("title") or row["id"])
        photos.setdefault(owner, []).append(
            (not row.get("primary"), PhotoFile(title, archive.read(blob)))
        )
    return {
        owner: [photo for _, photo in sorted(files, key=lambda pair: pair[0])]
        for owner, files in photos.items()
    }, documents


def _entity_row(
    line: int,
    entity: dict[str, Any],
    by_id: dict[str, dict[str, Any]],
    locations: set[str],
    item_tags: dict[Any, list[str]],
    fields: dict[Any, list[dict[str, Any]]],
) -> SourceRow:
    custom: list[dict[str, Any]] = []
    parent_id = entity.get("entity_children")
    if parent_id in by_id and parent_id not in locations:
        _add_field(custom, "Inside", "text", by_id[parent_id].get("name", ""))
    path = _location_path(parent_id, by_id, locations)
    for field in sorted(fields.get(entity["id"], []), key=lambda f: str(f.get("name", ""))):
        _add_field(custom, str(field.get("name", "")), *_field_value(field))
    if entity.get("insured"):
        _add_field(custom, "Insured", "boolean", True)
    if entity.get("lifetime_warranty"):
        _add_field(custom, "Lifetime warranty", "boolean", True)
    _add_field(custom, "Warranty details", "text", entity.get("warranty_details") or "")
    _add_field(custom, "Sold to", "text", entity.get("sold_to") or "")
    _add_field(custom, "Sold on", "date", _day(entity.get("sold_time")) or "")
    _add_field(custom, "Sold for", "number", entity.get("sold_price") or "")
    _add_field(custom, "Sold notes", "text", entity.get("sold_notes") or "")
    price = entity.get("purchase_price") or None
    asset = entity.get("asset_id") or 0
    fields_in: dict[str, Any] = {
        "name": entity.get("name") or "",
        "description": entity.get("description") or "",
        "notes": entity.get("notes") or "",
        "manufacturer": entity.get("manufacturer") or "",
        "model": entity.get("model_number") or "",
        "serial_number": entity.get("serial_number") or "",
        "vendor": entity.get("purchase_from") or "",
        "quantity": str(entity.get("quantity", 1)),
        "purchase_price": str(price) if price else None,
        "purchase_date": _day(entity.get("purchase_time")),
        "warranty_expires": _day(entity.get("warranty_expires")),
        "archived": bool(entity.get("archived")),
        "location": "/".join(path) or None,
        "tags": item_tags.get(entity["id"], []),
        "custom_fields": custom,
    }
    if isinstance(asset, int) and asset > 0:
        fields_in["asset_id"] = format_asset_id(asset)
    ref = str(entity.get("import_ref") or entity["id"])
    return SourceRow(line=line, fields=fields_in, import_ref=PREFIX + ref)


def _location_path(
    parent_id: Any, by_id: dict[str, dict[str, Any]], locations: set[str]
) -> list[str]:
    """The names of the locations above an entity, outermost first (items inside items are
    put where their outermost item is)."""
    names: list[str] = []
    seen: set[Any] = set()
    while parent_id in by_id and parent_id not in seen:
        seen.add(parent_id)
        parent = by_id[parent_id]
        if parent_id in locations:
            names.append(str(parent.get("name") or "").replace("/", "-"))
        parent_id = parent.get("entity_children")
    return [name for name in reversed(names) if name.strip()]


def _field_value(field: dict[str, Any]) -> tuple[str, Any]:
    match field.get("type"):
        case "number":
            return "number", field.get("number_value")
        case "boolean":
            return "boolean", bool(field.get("boolean_value"))
        case "time":
            return "date", _day(field.get("time_value")) or ""
        case _:
            return "text", field.get("text_value") or ""


def _day(value: Any) -> str | None:
    """The date of a Go timestamp; Go's zero time (0001-01-01) means none."""
    if not isinstance(value, str) or not value or value.startswith("0001-01-01"):
        return None
    return value[:10]


def open_zip(data: bytes) -> zipfile.ZipFile | None:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return None
