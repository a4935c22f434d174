"""Validation of item input, shared by the REST API and CSV import so both say the same thing."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

MAX_ID = 2**31 - 1
ASSET_ID_PATTERN = re.compile(r"^\d{3,}-\d{3}$")
CUSTOM_FIELD_TYPES = ("text", "number", "date", "boolean", "url")


class Text(fields.String):
    """A string with a length limit that PostgreSQL can store (no NUL characters)."""

    def __init__(
        self,
        *,
        max_length: int,
        min_length: int = 0,
        strip: bool = True,
        validate: Any = None,
        **kwargs: Any,
    ) -> None:
        validators = [_length(min_length, max_length), _no_nul, *([validate] if validate else [])]
        super().__init__(validate=validators, **kwargs)
        self.strip = strip

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        return text.strip() if self.strip else text


def _length(low: int, high: int) -> validate.Length:
    return validate.Length(min=low, max=high)


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")


def Id(*, strict: bool = True, **kwargs: Any) -> fields.Integer:
    """A database id: a whole number that fits the column (query strings are not strict)."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


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


_CHECKERS = {
    "text": _text_value,
    "number": _number_value,
    "date": _date_value,
    "boolean": _boolean_value,
    "url": _url_value,
}


class Amount(fields.Decimal):
    """A decimal amount: exact in the database, a plain JSON number on the wire and in the
    OpenAPI document (where apispec serialises the range limits with this field)."""

    def __init__(self, *, places: int, low: int, high: int, **kwargs: Any) -> None:
        super().__init__(
            places=places,
            allow_nan=False,
            validate=validate.Range(min=low, max=high, max_inclusive=False),
            **kwargs,
        )

    # A float on the wire is the point of this field, hence the narrower return type.
    def _serialize(  # type: ignore[override]
        self, value: Any, attr: str | None, obj: Any, **kwargs: Any
    ) -> float | None:
        result = super()._serialize(value, attr, obj, **kwargs)
        return None if result is None else float(result)


def _money(places: int, maximum: int, **kwargs: Any) -> Amount:
    return Amount(places=places, low=0, high=maximum, **kwargs)


class ItemFieldsSchema(Schema):
    """The writable fields of an item. Loaded with partial=True for updates."""

    class Meta:
        unknown = RAISE

    name = Text(required=True, min_length=1, max_length=200)
    description = Text(max_length=10_000, strip=False)
    quantity = _money(places=3, maximum=10**11)
    unit = Text(max_length=32)
    location = Text(
        max_length=1000,
        allow_none=True,
        metadata={
            "description": 'A path such as "Home/Garage/Workbench"; missing levels are created.'
        },
    )
    location_id = Id(allow_none=True)
    tags = fields.List(tag_field(), validate=validate.Length(max=50))
    custom_fields = fields.List(fields.Nested(CustomFieldSchema), validate=validate.Length(max=50))
    manufacturer = Text(max_length=200)
    model = Text(max_length=200)
    serial_number = Text(max_length=200)
    purchase_date = fields.Date(allow_none=True)
    purchase_price = _money(places=2, maximum=10**10, allow_none=True)
    currency = Text(
        max_length=3,
        validate=validate.Regexp(r"^([A-Z]{3})?$", error="must be a 3-letter code such as EUR"),
    )
    vendor = Text(max_length=200)
    warranty_expires = fields.Date(allow_none=True)
    notes = Text(max_length=10_000, strip=False)
    archived = fields.Boolean()

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

    asset_id = Text(
        max_length=16,
        validate=validate.Regexp(ASSET_ID_PATTERN, error="must look like 000-123"),
    )
