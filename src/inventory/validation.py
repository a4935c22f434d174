"""Field types shared by every input schema (API, CSV, forms): text PostgreSQL can store,
database ids and exact decimal amounts, each with its bounds."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

# The largest id a PostgreSQL integer column holds: anything above is refused, not a 500.
MAX_ID = 2**31 - 1


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


def parse_id(value: str | None) -> int | None:
    """An id from a query string or form ("12"), or None when it is not one that can exist."""
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


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
