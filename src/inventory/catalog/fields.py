"""The fields of an item, declared once: the model's columns marked with a label
(`info={"label": ...}`) are the item's plain fields, and the API's input and output schemas,
the CSV columns, the item form and the history all derive from that list.

Adding a field: a column with a label in db.models, a migration, and a place in the item form
template. Validation of item input lives here too, so the API, CSV import and forms agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from urllib.parse import urlsplit

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import Boolean, Column, Date, Numeric, String, inspect
from sqlalchemy.dialects.postgresql import JSONB

from inventory.db.models import Item
from inventory.validation import Amount, Id, Text

ASSET_ID_PATTERN = re.compile(r"^\d{3,}-\d{3}$")
CUSTOM_FIELD_TYPES = ("text", "number", "date", "boolean", "url")
LONG_TEXT_MAX = 10_000
MAX_CUSTOM_FIELDS = 50
MAX_TAGS = 50
FieldKind = Literal["text", "long_text", "amount", "date", "flag", "custom_fields"]


class _TagText(Text):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = " ".join(super()._deserialize(value, attr, data, **kwargs).split())
        if "," in name:
            raise ValidationError("must not contain commas (they separate tags in CSV)")
        if not name:
            raise ValidationError("must not be empty")
        return name


def tag_field(**kwargs: Any) -> _TagText:
    return _TagText(max_length=64, **kwargs)


class CustomFieldSchema(Schema):
    """A typed custom field: {"name": "Voltage", "type": "number", "value": 20}."""

    class Meta:
        unknown = RAISE

    name = Text(required=True, min_length=1, max_length=64)
    type = fields.String(required=True, validate=validate.OneOf(CUSTOM_FIELD_TYPES))
    value = fields.Raw(required=True, allow_none=True)

    @validates_schema
    def _check_value(self, data: dict[str, Any], **_: Any) -> None:
        value = data.get("value")
        if value is None or "type" not in data:
            return
        try:
            data["value"] = _CHECKERS[data["type"]](value)
        except (ValueError, TypeError) as exc:
            raise ValidationError({"value": [str(exc)]}) from None


def _text_value(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("must be a string for type text")
    if len(value) > 2000 or "\x00" in value:
        raise ValueError("must be at most 2000 characters, without NUL")
    return value


def _number_value(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("must be a number for type number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if abs(value) > 1e15:
        raise ValueError("must be between -1e15 and 1e15")
    return value


def _date_value(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("must be a date string YYYY-MM-DD for type date")
    return date.fromisoformat(value).isoformat()


def _boolean_value(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("must be true or false for type boolean")
    return value


def _url_value(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 2000:
        raise TypeError("must be a string of at most 2000 characters for type url")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value


_CHECKERS: dict[str, Callable[[Any], Any]] = {
    "text": _text_value,
    "number": _number_value,
    "date": _date_value,
    "boolean": _boolean_value,
    "url": _url_value,
}


# ---- the field list -------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemField:
    """One plain field of an item as every surface sees it (tags and the location are
    stored and encoded differently, so they are not in the list)."""

    name: str
    label: str
    kind: FieldKind
    nullable: bool
    required: bool = False
    max_length: int = 0
    places: int = 0
    maximum: int = 0
    pattern: str | None = None
    pattern_error: str = ""

    def input(self) -> fields.Field[Any]:
        """The marshmallow field that validates this field's input."""
        match self.kind:
            case "text" | "long_text":
                check = (
                    validate.Regexp(self.pattern, error=self.pattern_error)
                    if self.pattern
                    else None
                )
                return Text(
                    max_length=self.max_length,
                    min_length=1 if self.required else 0,
                    required=self.required,
                    strip=self.kind == "text",
                    validate=check,
                )
            case "amount":
                return Amount(
                    places=self.places, low=0, high=self.maximum, allow_none=self.nullable
                )
            case "date":
                return fields.Date(allow_none=True)
            case "flag":
                return fields.Boolean()
            case "custom_fields":
                return fields.List(
                    fields.Nested(CustomFieldSchema),
                    validate=validate.Length(max=MAX_CUSTOM_FIELDS),
                )

    def output(self) -> fields.Field[Any]:
        """The marshmallow field that writes this field in API answers."""
        match self.kind:
            case "text" | "long_text":
                return fields.String()
            case "amount":
                return fields.Float(allow_none=self.nullable)
            case "date":
                return fields.Date(allow_none=True)
            case "flag":
                return fields.Boolean()
            case "custom_fields":
                return fields.List(fields.Nested(CustomFieldSchema))


def _from_column(column: Column[Any]) -> ItemField:
    info = column.info
    common: dict[str, Any] = {
        "name": column.key,
        "label": info["label"],
        "nullable": bool(column.nullable),
        "required": bool(info.get("required", False)),
        "pattern": info.get("pattern"),
        "pattern_error": info.get("pattern_error", ""),
    }
    kind = column.type
    if isinstance(kind, JSONB):
        return ItemField(kind="custom_fields", **common)
    if isinstance(kind, String) and kind.length:
        return ItemField(kind="text", max_length=kind.length, **common)
    if isinstance(kind, String):
        return ItemField(kind="long_text", max_length=LONG_TEXT_MAX, **common)
    if isinstance(kind, Numeric):
        places = kind.scale or 0
        return ItemField(
            kind="amount", places=places, maximum=10 ** ((kind.precision or 0) - places), **common
        )
    if isinstance(kind, Date):
        return ItemField(kind="date", **common)
    if isinstance(kind, Boolean):
        return ItemField(kind="flag", **common)
    raise TypeError(f"items.{column.key}: no field kind for {kind!r}")


ITEM_FIELDS: tuple[ItemField, ...] = tuple(
    _from_column(column) for column in inspect(Item).columns if "label" in column.info
)
FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in ITEM_FIELDS)
FIELD_LABELS: dict[str, str] = {
    **{field.name: field.label for field in ITEM_FIELDS},
    "tags": "Tags",
    "location": "Location",
}


# ---- input schemas --------------------------------------------------------------------------


class ItemFieldsSchema(Schema):
    """The writable fields of an item. Loaded with partial=True for updates."""

    class Meta:
        unknown = RAISE
        include = {field.name: field.input() for field in ITEM_FIELDS}  # noqa: RUF012

    location = Text(
        max_length=1000,
        allow_none=True,
        metadata={
            "description": 'A path such as "Home/Garage/Workbench"; missing levels are created.'
        },
    )
    location_id = Id(allow_none=True)
    tags = fields.List(tag_field(), validate=validate.Length(max=MAX_TAGS))

    @validates_schema
    def _one_location(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("location") is not None and data.get("location_id") is not None:
            raise ValidationError("give either location or location_id, not both", "location")

    @validates_schema
    def _unique_custom_fields(self, data: dict[str, Any], **_: Any) -> None:
        names = [field["name"].lower() for field in data.get("custom_fields", [])]
        if len(names) != len(set(names)):
            raise ValidationError("custom field names must be unique", "custom_fields")


class ItemImportSchema(ItemFieldsSchema):
    """A CSV row: the item fields plus the asset ID used to match existing items."""

    class Meta:
        unknown = EXCLUDE
        include = ItemFieldsSchema.Meta.include

    asset_id = Text(
        max_length=16,
        validate=validate.Regexp(ASSET_ID_PATTERN, error="must look like 000-123"),
    )
