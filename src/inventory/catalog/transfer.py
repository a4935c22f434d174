"""CSV export and import. Import matches columns by header name, upserts by asset ID and is
all-or-nothing: one bad row and nothing is applied, with every bad row reported by line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from marshmallow import ValidationError
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from inventory.catalog import item_queries
from inventory.catalog import items as item_service
from inventory.catalog.fields import FIELD_NAMES, ITEM_FIELDS, ItemField, ItemImportSchema
from inventory.catalog.history import json_value
from inventory.catalog.tree import PATH_SEPARATOR, LocationTree
from inventory.db.models import Item, User
from inventory.errors import DomainError, InvalidInput

# Import matches columns by header; this order (name first) is for people reading the file.
COLUMNS = ("asset_id", "name", "location", "tags", *(n for n in FIELD_NAMES if n != "name"))
_FIELDS = {field.name: field for field in ITEM_FIELDS}
MAX_IMPORT_ROWS = 100_000
Progress = Callable[[int], None]


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


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str


@dataclass(frozen=True)
class RowResult:
    line: int
    action: Literal["create", "update", "unchanged"]
    asset_id: str
    name: str


@dataclass
class ImportReport:
    dry_run: bool
    rows: list[RowResult] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return not self.dry_run and not self.errors

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)


def read_csv(data: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs; raises InvalidInput for a file that is not CSV."""
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.field("file", "is not UTF-8 text; save the CSV as UTF-8") from None
    reader = csv.DictReader(io.StringIO(content, newline=""))
    try:
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        rows = []
        for row in reader:
            rows.append((reader.line_num, row))
            if len(rows) > MAX_IMPORT_ROWS:
                raise InvalidInput.field("file", f"has more than {MAX_IMPORT_ROWS} rows; split it")
    except csv.Error as exc:
        raise InvalidInput.field("file", f"is not valid CSV ({exc})") from None
    if "name" not in header:
        raise InvalidInput.field("file", "needs a header row with at least a 'name' column")
    return header, rows


def import_csv(
    *,
    session: Session,
    data: bytes,
    actor: User | None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    header, rows = read_csv(data)
    report = ImportReport(
        dry_run=dry_run, ignored_columns=[name for name in header if name not in COLUMNS]
    )
    columns = [name for name in header if name in COLUMNS]
    highest = 0
    for line, row in rows:
        fields = _row_input(row, columns)
        try:
            with session.begin_nested():
                result = _import_row(session, line, fields, actor)
            report.rows.append(result)
            highest = max(highest, item_queries.asset_number(result.asset_id))
        except ValidationError as exc:
            report.errors.extend(_row_errors(line, exc.messages))
        except DomainError as exc:
            report.errors.extend(_row_errors(line, exc.errors or {None: [exc.detail]}))
        if progress:
            progress(1)
    if report.errors or dry_run:
        session.rollback()
        return report
    session.execute(
        text(
            "SELECT setval('item_asset_seq', GREATEST(:n, (SELECT last_value FROM item_asset_seq)))"
        ),
        {"n": max(highest, 1)},
    )
    session.commit()
    return report


def _row_input(row: dict[str, str], columns: Iterable[str]) -> dict[str, Any]:
    """Turn CSV cells into the shape the item schema expects; an empty cell clears a field
    that may be empty (a date, a price, the tags) and leaves any other unchanged."""
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


def _import_row(
    session: Session, line: int, fields: dict[str, Any], actor: User | None
) -> RowResult:
    data = ItemImportSchema().load(fields)
    asset_id = data.pop("asset_id", None)
    existing = (
        item_queries.find_by_asset_id(session=session, asset_id=asset_id) if asset_id else None
    )
    if existing is None:
        if "name" not in data:
            raise ValidationError({"name": ["Missing data for required field."]})
        item = item_service.create_item(
            session=session, data=data, actor=actor, asset_id=asset_id, commit=False
        )
        return RowResult(line=line, action="create", asset_id=item.asset_id, name=item.name)
    version = existing.version
    item = item_service.update_item(
        session=session, item_id=existing.id, data=data, actor=actor, commit=False
    )
    action: Literal["update", "unchanged"] = "update" if item.version != version else "unchanged"
    return RowResult(line=line, action=action, asset_id=item.asset_id, name=item.name)


def _row_errors(line: int, messages: Any) -> list[RowError]:
    """Flatten marshmallow's nested messages into one error per field."""
    if not isinstance(messages, dict):
        return [RowError(line=line, field=None, message=str(messages))]
    errors = []
    for name, value in messages.items():
        text_value = "; ".join(map(str, value)) if isinstance(value, list) else json.dumps(value)
        errors.append(
            RowError(line=line, field=None if name == "_schema" else name, message=text_value)
        )
    return errors
