"""Reading a sheet: CSV (comma, tab or semicolon) or the first worksheet of an XLSX file,
as a header and (line number, {header: cell text}) rows."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from typing import Any

from inventory.errors import InvalidInput

MAX_ROWS = 100_000
Table = tuple[list[str], list[tuple[int, dict[str, str]]]]


def is_xlsx(data: bytes) -> bool:
    if not data.startswith(b"PK"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.field("file", "is not UTF-8 text; save the CSV as UTF-8") from None


def _delimiter(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_csv(text: str) -> Table:
    """Header and rows; raises InvalidInput for a file that is not CSV or too long."""
    delimiter = _delimiter(text.split("\n", 1)[0])
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        rows = []
        for row in reader:
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue  # a blank line at the end of a spreadsheet's export
            rows.append(
                (
                    reader.line_num,
                    {k: v if isinstance(v, str) else "" for k, v in row.items() if k is not None},
                )
            )
            if len(rows) > MAX_ROWS:
                raise InvalidInput.field("file", f"has more than {MAX_ROWS} rows; split it")
    except csv.Error as exc:
        raise InvalidInput.field("file", f"is not valid CSV ({exc})") from None
    if not header or not any(header):
        raise InvalidInput.field("file", "needs a header row naming its columns")
    return header, rows


def read_xlsx(data: bytes) -> Table:
    """The first worksheet; its first row is the header. Dates become 2006-01-02."""
    from openpyxl import load_workbook  # only imports of spreadsheets need it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise InvalidInput.field("file", f"is not a readable XLSX workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        lines = sheet.iter_rows(values_only=True)
        header = [_cell(value).strip() for value in next(lines, ())]
        rows = []
        for number, values in enumerate(lines, start=2):
            cells = [_cell(value) for value in values]
            if not any(cell.strip() for cell in cells):
                continue
            rows.append(
                (
                    number,
                    {
                        name: cells[i] if i < len(cells) else ""
                        for i, name in enumerate(header)
                        if name
                    },
                )
            )
            if len(rows) > MAX_ROWS:
                raise InvalidInput.field("file", f"has more than {MAX_ROWS} rows; split it")
    finally:
        book.close()
    header = [name for name in header if name]
    if not header:
        raise InvalidInput.field("file", "the first worksheet needs a header row")
    return header, rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_table(data: bytes) -> Table:
    return read_xlsx(data) if is_xlsx(data) else read_csv(decode(data))
