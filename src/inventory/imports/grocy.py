"""Grocy: products and their stock, as its documented API gives them. Save the answers of
`/api/objects/products`, `/api/objects/locations`, `/api/objects/quantity_units`,
`/api/objects/product_groups` and `/api/stock` (or `/api/objects/stock` for stock by
location) into one JSON object keyed by those names, or as products.json, locations.json …
in a zip. A bare `/api/stock` answer works too (it embeds each product).

Each product becomes one item per location that holds it (the product's default location
when it has no stock entries), with the amount in stock as its quantity, the stock unit as
its unit and the product group as a tag; it is matched by "grocy:<product id>@<location id>".
"""

from __future__ import annotations

import json
import zipfile
from decimal import Decimal
from typing import Any

from inventory.errors import InvalidInput
from inventory.imports.homebox import _add_field
from inventory.imports.source import Source, SourceRow
from inventory.imports.values import number_text

PREFIX = "grocy:"
TABLES = ("products", "locations", "quantity_units", "product_groups", "stock", "stock_entries")


def matches_json(value: Any) -> bool:
    if isinstance(value, dict):
        return "products" in value or "stock" in value
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and "product_id" in value[0]
        and "product" in value[0]
    )


def read_zip(archive: zipfile.ZipFile) -> Source:
    tables: dict[str, Any] = {}
    for name in TABLES:
        if f"{name}.json" in archive.namelist():
            try:
                tables[name] = json.loads(archive.read(f"{name}.json"))
            except ValueError:
                raise InvalidInput.field("file", f"{name}.json is not valid JSON") from None
    return read(tables)


def read(value: Any) -> Source:
    tables: dict[str, Any] = value if isinstance(value, dict) else {"stock": value}
    for name, rows in tables.items():
        if name in TABLES and not (
            isinstance(rows, list) and all(isinstance(row, dict) for row in rows)
        ):
            raise InvalidInput.field(
                "file", f"{name!r} must be a list of objects, as Grocy's API gives it"
            )
    products = {str(row.get("id")): row for row in tables.get("products", [])}
    for entry in tables.get("stock", []):
        if isinstance(entry.get("product"), dict):
            products.setdefault(str(entry.get("product_id")), entry["product"])
    if not products:
        raise InvalidInput.field("file", "holds no Grocy products")
    names = {
        kind: {str(row.get("id")): str(row.get("name") or "") for row in tables.get(kind, [])}
        for kind in ("locations", "quantity_units", "product_groups")
    }
    amounts = _amounts(tables, products)
    source = Source(format="grocy", rows=[], key="import_ref")
    for line, (pid, product) in enumerate(
        sorted(products.items(), key=lambda p: _int(p[0])), start=1
    ):
        places = amounts.get(pid) or {str(product.get("location_id") or ""): (Decimal(0), None)}
        for location_id, (amount, best_before) in sorted(places.items()):
            source.rows.append(_row(line, pid, product, location_id, amount, best_before, names))
    return source


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0


def _amounts(
    tables: dict[str, Any], products: dict[str, Any]
) -> dict[str, dict[str, tuple[Decimal, str | None]]]:
    """Amount and earliest best-before date per product and location."""
    found: dict[str, dict[str, tuple[Decimal, str | None]]] = {}

    def add(pid: str, location: str, amount: Any, best_before: Any) -> None:
        total, earliest = found.setdefault(pid, {}).get(location, (Decimal(0), None))
        day = (
            str(best_before)[:10]
            if best_before and not str(best_before).startswith("2999")
            else None
        )
        if day and (earliest is None or day < earliest):
            earliest = day
        found[pid][location] = (total + Decimal(str(amount or 0)), earliest)

    if tables.get("stock_entries"):
        for entry in tables["stock_entries"]:
            add(
                str(entry.get("product_id")),
                str(entry.get("location_id") or ""),
                entry.get("amount"),
                entry.get("best_before_date"),
            )
    else:
        for entry in tables.get("stock", []):
            pid = str(entry.get("product_id"))
            location = str(products.get(pid, {}).get("location_id") or "")
            add(pid, location, entry.get("amount"), entry.get("best_before_date"))
    return found


def _row(
    line: int,
    pid: str,
    product: dict[str, Any],
    location_id: str,
    amount: Decimal,
    best_before: str | None,
    names: dict[str, dict[str, str]],
) -> SourceRow:
    custom: list[dict[str, Any]] = []
    if best_before:
        _add_field(custom, "Best before", "date", best_before)
    minimum = product.get("min_stock_amount")
    if minimum not in (None, "", 0, "0"):
        _add_field(custom, "Minimum stock", "number", float(minimum))
    group = names["product_groups"].get(str(product.get("product_group_id") or ""), "")
    location = names["locations"].get(location_id) or (
        f"Grocy location {location_id}" if location_id else ""
    )
    fields = {
        "name": str(product.get("name") or f"Grocy product {pid}"),
        "description": str(product.get("description") or ""),
        "quantity": number_text(max(amount, Decimal(0))) or "0",
        "unit": names["quantity_units"].get(str(product.get("qu_id_stock") or ""), "")[:32],
        "location": location.replace("/", "-") or None,
        "tags": [group.replace(",", " ")] if group else [],
        "custom_fields": custom,
    }
    return SourceRow(line=line, fields=fields, import_ref=f"{PREFIX}{pid}@{location_id or '-'}")
