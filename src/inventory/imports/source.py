"""What every importer produces: rows of item input in one shape, whatever the file was."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Key = Literal["asset_id", "import_ref"]


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class PhotoFile:
    filename: str
    data: bytes


@dataclass
class SourceRow:
    """One record: `fields` in the shape the item import schema loads (text cells, lists),
    `import_ref` the record's key in the tool it came from."""

    line: int
    fields: dict[str, Any]
    import_ref: str | None = None
    photos: list[PhotoFile] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class Source:
    """A read file. `key` says how rows find the item they update: our own CSV by asset ID,
    other tools by their own record key (`import_ref`); their asset IDs are kept when free."""

    format: str
    rows: list[SourceRow]
    key: Key = "import_ref"
    ignored_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
