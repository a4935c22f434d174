"""Cell values as other tools write them: dates, booleans and numbers in their spellings."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

# The layouts Homebox reads (Go reference date 2006-01-02), plus RFC 3339 timestamps.
DATE_LAYOUTS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d")
# Go's strconv.ParseBool, exactly.
TRUE_WORDS = frozenset({"1", "t", "T", "TRUE", "true", "True"})
FALSE_WORDS = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


class CellError(ValueError):
    """A cell that cannot be read; the message says what it accepts."""


def parse_date(value: str) -> date | None:
    """2006-01-02, 01/02/2006 (month first), 2006/01/02 or an RFC 3339 timestamp; "" is None."""
    value = value.strip()
    if not value:
        return None
    for layout in DATE_LAYOUTS:
        try:
            return datetime.strptime(value, layout).date()
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise CellError(
            f"{value!r} is not a date: write 2006-01-02, 01/02/2006 or 2006/01/02"
        ) from None


def parse_bool(value: str) -> bool:
    """As Go's strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False; "" is false."""
    value = value.strip()
    if not value or value in FALSE_WORDS:
        return False
    if value in TRUE_WORDS:
        return True
    raise CellError(f"{value!r} is not true or false: write true/false, 1/0 or t/f")


def parse_number(value: str, *, thousands: str = "") -> Decimal | None:
    """A plain number ("12.5", "1,234.50" with thousands=","); "" is None."""
    text = value.strip().replace(" ", "")
    for symbol in "$€£¥":
        text = text.replace(symbol, "")
    if thousands:
        text = text.replace(thousands, "")
    if not text:
        return None
    if not _NUMBER.match(text):
        raise CellError(f"{value!r} is not a number")
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise CellError(f"{value!r} is not a number") from None


def number_text(number: Decimal | None) -> str:
    """A Decimal as the item schema's number input ("12.5"), or "" for none."""
    if number is None:
        return ""
    return format(number.normalize(), "f")


def split_list(value: str, separator: str) -> list[str]:
    """Parts between separators, trimmed, empty ones dropped (Homebox's rule)."""
    return [part.strip() for part in value.split(separator) if part.strip()]
