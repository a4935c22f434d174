"""Rows → items, for every importer: plan (the preview) and apply, sharing one computation.

Planning reads everything it needs in a few queries (the matched items with their tags, the
location tree, the tags, the highest asset number) and works out each row's change in
memory: a preview writes nothing and takes no asset number from the sequence. Applying
plans again under a lock, so the asset IDs it creates are the ones the preview showed (when
nothing changed in between), then writes in bulk: new locations and tags, one INSERT for new
items, one executemany UPDATE for changed ones, their tags, history and search documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from marshmallow import ValidationError
from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from inventory import search
from inventory.catalog.fields import FIELD_NAMES, ITEM_FIELDS, ItemField, ItemImportSchema
from inventory.catalog.history import json_value
from inventory.catalog.item_queries import asset_number, format_asset_id
from inventory.catalog.items import ASSET_ID_LOCK
from inventory.catalog.tree import DISPLAY_SEPARATOR, PATH_SEPARATOR, LocationTree
from inventory.db.models import Item, ItemHistory, Location, Tag, User, item_tags
from inventory.imports.source import RowError, Source, SourceRow

Progress = Callable[[float], None]
Action = Literal["create", "update", "unchanged"]
_ITEMS: Table = Item.__table__  # type: ignore[assignment]
_HISTORY: Table = ItemHistory.__table__  # type: ignore[assignment]
_FIELD_COLUMNS = [_ITEMS.c[name] for name in FIELD_NAMES]
_CHUNK = 5000
# Of the work, planning is this share; the writes are the rest.
_PLAN_SHARE = 0.5


def _default(field_: ItemField) -> Any:
    match field_.kind:
        case "text" | "long_text":
            return ""
        case "amount":
            return None if field_.nullable else 1
        case "date":
            return None
        case "flag":
            return False
        case "custom_fields":
            return []


DEFAULTS = {field_.name: _default(field_) for field_ in ITEM_FIELDS}


@dataclass
class RowPlan:
    line: int
    action: Action
    asset_id: str
    name: str
    values: dict[str, Any]
    tags: list[str]
    location: tuple[str, ...] | None
    item_id: int | None = None
    import_ref: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    tags_changed: bool = False
    before: dict[str, Any] | None = None
    before_location_id: int | None = None
    after: dict[str, Any] = field(default_factory=dict)
    source: SourceRow | None = None


@dataclass
class Plan:
    source: Source
    rows: list[RowPlan] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    new_locations: list[tuple[str, ...]] = field(default_factory=list)
    new_tags: list[str] = field(default_factory=list)
    base_number: int = 0
    notes: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)


# ---- planning ------------------------------------------------------------------------------


class _Locations:
    """Paths → location ids, from the tree loaded once; unknown paths are noted as new."""

    def __init__(self, tree: LocationTree) -> None:
        self.tree = tree
        self.index: dict[tuple[str, ...], int] = {}
        self.names: dict[tuple[str, ...], str] = {}
        for node_id in tree.nodes:
            names = tree.names(node_id)
            key = tuple(name.lower() for name in names)
            self.index[key] = node_id
            for depth in range(1, len(names) + 1):
                self.names.setdefault(key[:depth], names[depth - 1])
        self.new: dict[tuple[str, ...], tuple[str, ...]] = {}

    @staticmethod
    def parts(path: str) -> tuple[str, ...]:
        parts = (" ".join(part.split())[:200] for part in path.split(PATH_SEPARATOR))
        return tuple(part for part in parts if part)

    def resolve(self, path: str) -> tuple[str, ...]:
        """The path as stored (existing levels keep their spelling), noting new ones."""
        parts = self.parts(path)
        if not parts:
            raise ValidationError(
                {"location": ["must name at least one level, e.g. 'Home/Garage'"]}
            )
        key = tuple(part.lower() for part in parts)
        spelled = tuple(self.names.get(key[: depth + 1], part) for depth, part in enumerate(parts))
        for depth in range(1, len(key) + 1):
            if key[:depth] not in self.index and key[:depth] not in self.new:
                self.new[key[:depth]] = spelled[:depth]
                self.names.setdefault(key[:depth], spelled[depth - 1])
        return spelled

    def display(self, spelled: tuple[str, ...] | None) -> str | None:
        return DISPLAY_SEPARATOR.join(spelled) if spelled else None

    def of(self, location_id: int | None) -> tuple[str, ...] | None:
        return tuple(self.tree.names(location_id)) if location_id is not None else None


def plan_import(
    *, session: Session, source: Source, lock: bool = False, progress: Progress | None = None
) -> Plan:
    """Work out what importing `source` would change, writing nothing. `lock=True` (apply)
    holds the import lock and the matched items' rows until the transaction ends."""
    if lock:
        session.execute(select(func.pg_advisory_xact_lock(ASSET_ID_LOCK)))
    plan = Plan(source=source, notes=list(source.notes))
    loaded = _validate(source, plan, progress)
    existing = _existing(session, source, loaded, lock)
    locations = _Locations(LocationTree.load(session))
    tag_names = {name.lower(): name for name in session.scalars(select(Tag.name))}
    new_tags: dict[str, str] = {}
    plan.base_number = _asset_base(session)
    taken = _taken_asset_ids(session, loaded, source)
    wanted: set[str] = set()
    pending: list[RowPlan] = []
    for index, (row, data) in enumerate(loaded):
        try:
            row_plan = _plan_row(row, data, source, existing, locations, tag_names, new_tags)
        except ValidationError as exc:
            plan.errors.extend(_row_errors(row.line, exc.messages))
            continue
        if row_plan.action == "create":
            _choose_asset_id(row_plan, row, data, taken, wanted, plan)
            pending.append(row_plan)
        plan.rows.append(row_plan)
        if progress and index % 500 == 0:
            progress(_PLAN_SHARE * (0.5 + 0.5 * index / max(len(loaded), 1)))
    _number_new_items(pending, plan.base_number, wanted)
    plan.new_locations = list(locations.new.values())
    plan.new_tags = list(new_tags.values())
    plan.errors.sort(key=lambda error: error.line)
    return plan


def _validate(
    source: Source, plan: Plan, progress: Progress | None
) -> list[tuple[SourceRow, dict[str, Any]]]:
    schema = ItemImportSchema()
    loaded: list[tuple[SourceRow, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(source.rows):
        if progress and index % 500 == 0:
            progress(_PLAN_SHARE * 0.5 * index / max(len(source.rows), 1))
        if row.errors:
            plan.errors.extend(row.errors)
            continue
        try:
            data = schema.load(row.fields)
        except ValidationError as exc:
            plan.errors.extend(_row_errors(row.line, exc.messages))
            continue
        key, label = _key_of(source, row, data)
        if key is not None:
            if key in seen:
                plan.errors.append(
                    RowError(row.line, label, f"the same {label} as line {seen[key]}")
                )
                continue
            seen[key] = row.line
        loaded.append((row, data))
    return loaded


def _key_of(source: Source, row: SourceRow, data: dict[str, Any]) -> tuple[str | None, str]:
    if source.key == "asset_id":
        return data.get("asset_id"), "asset_id"
    return row.import_ref, "import_ref"


_EXISTING_COLUMNS = [
    _ITEMS.c.id,
    _ITEMS.c.asset_id,
    _ITEMS.c.import_ref,
    _ITEMS.c.location_id,
    *_FIELD_COLUMNS,
]


def _existing(
    session: Session,
    source: Source,
    loaded: Sequence[tuple[SourceRow, dict[str, Any]]],
    lock: bool,
) -> dict[str, dict[str, Any]]:
    """The items the rows name, by their key, with their tags (sorted names)."""
    column = _ITEMS.c.asset_id if source.key == "asset_id" else _ITEMS.c.import_ref
    keys = [key for row, data in loaded if (key := _key_of(source, row, data)[0])]
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(keys):
        query = select(*_EXISTING_COLUMNS).where(column.in_(chunk))
        if lock:
            query = query.with_for_update()
        for row in session.execute(query).mappings():
            found[row[column.key]] = {**row, "tags": []}
    by_id = {item["id"]: item for item in found.values()}
    for chunk in _chunks(list(by_id)):
        for item_id, name in session.execute(
            select(item_tags.c.item_id, Tag.name)
            .join(Tag, Tag.id == item_tags.c.tag_id)
            .where(item_tags.c.item_id.in_(chunk))
        ):
            by_id[item_id]["tags"].append(name)
    for item in by_id.values():
        item["tags"].sort()
    return found


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _plan_row(
    row: SourceRow,
    data: dict[str, Any],
    source: Source,
    existing: dict[str, dict[str, Any]],
    locations: _Locations,
    tag_names: dict[str, str],
    new_tags: dict[str, str],
) -> RowPlan:
    key = _key_of(source, row, data)[0]
    current = existing.get(key) if key else None
    if current is None and "name" not in data:
        raise ValidationError({"name": ["Missing data for required field."]})
    values = dict(DEFAULTS) if current is None else {n: current[n] for n in FIELD_NAMES}
    values.update({name: data[name] for name in FIELD_NAMES if name in data})
    before_tags = current["tags"] if current else []
    tags = (
        sorted(_tag_name(name, tag_names, new_tags) for name in _unique(data["tags"]))
        if "tags" in data
        else list(before_tags)
    )
    before_location = locations.of(current["location_id"]) if current else None
    location = before_location
    if "location" in data:
        location = locations.resolve(data["location"]) if data["location"] else None
    after = _state(values, tags, locations.display(location))
    plan = RowPlan(
        line=row.line,
        action="create",
        asset_id=data.get("asset_id") or "",
        name=values["name"],
        values=values,
        tags=tags,
        location=location,
        import_ref=row.import_ref,
        after=after,
        source=row,
    )
    if current is None:
        return plan
    before = _state(current, before_tags, locations.display(before_location))
    plan.before = before
    plan.before_location_id = current["location_id"]
    plan.item_id, plan.asset_id = current["id"], current["asset_id"]
    plan.changes = [
        {"field": name, "old": before[name], "new": after[name]}
        for name in after
        if before[name] != after[name]
    ]
    plan.tags_changed = before["tags"] != after["tags"]
    plan.action = "update" if plan.changes else "unchanged"
    return plan


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def _tag_name(name: str, known: dict[str, str], new: dict[str, str]) -> str:
    key = name.lower()
    if key in known:
        return known[key]
    return new.setdefault(key, name)


def _state(values: dict[str, Any], tags: list[str], location: str | None) -> dict[str, Any]:
    """An item's tracked state as the history shows it (the location as its path)."""
    state = {name: json_value(values[name]) for name in FIELD_NAMES}
    state["tags"] = tags
    state["location"] = location
    return state


# ---- asset IDs -----------------------------------------------------------------------------


def _asset_base(session: Session) -> int:
    """The highest asset number in use or handed out: new items are numbered after it."""
    highest = session.scalar(
        text(
            "SELECT coalesce(max(replace(asset_id, '-', '')::bigint), 0) FROM items "
            "WHERE asset_id ~ '^[0-9]+-[0-9]{3}$'"
        )
    )
    last, called = session.execute(text("SELECT last_value, is_called FROM item_asset_seq")).one()
    return max(int(highest or 0), int(last) if called else int(last) - 1)


def _taken_asset_ids(
    session: Session, loaded: Sequence[tuple[SourceRow, dict[str, Any]]], source: Source
) -> set[str]:
    """Of the asset IDs rows ask for, those another item already has."""
    if source.key == "asset_id":
        return set()  # our own CSV: an existing asset ID is the item the row updates
    wanted = [data["asset_id"] for _, data in loaded if data.get("asset_id")]
    taken: set[str] = set()
    for chunk in _chunks(wanted):
        taken.update(session.scalars(select(_ITEMS.c.asset_id).where(_ITEMS.c.asset_id.in_(chunk))))
    return taken


def _choose_asset_id(
    row_plan: RowPlan,
    row: SourceRow,
    data: dict[str, Any],
    taken: set[str],
    wanted: set[str],
    plan: Plan,
) -> None:
    asking = data.get("asset_id")
    if asking and asking not in taken and asking not in wanted:
        row_plan.asset_id = asking
        wanted.add(asking)
        return
    if asking:
        plan.notes.append(f"line {row.line}: asset ID {asking} is taken; a new one is given")
    row_plan.asset_id = ""


def _number_new_items(rows: list[RowPlan], base: int, wanted: set[str]) -> None:
    """Number new items without an asset ID after `base`, skipping IDs other rows ask for."""
    number = base
    for row in rows:
        if row.asset_id:
            continue
        number += 1
        while format_asset_id(number) in wanted:
            number += 1
        row.asset_id = format_asset_id(number)


# ---- applying ------------------------------------------------------------------------------


@dataclass
class Written:
    item_ids: list[int]
    photos: list[str]


def apply_plan(
    *,
    session: Session,
    plan: Plan,
    actor: User | None,
    progress: Progress | None = None,
    add_photos: Callable[[Session, int, list[Any]], list[str]] | None = None,
) -> Written:
    """Write the planned changes (not committed). `add_photos(session, item_id, photos)`
    stores a row's photos and returns the names it wrote (for cleanup on failure)."""
    step = _Steps(progress, 7)
    location_ids = _create_locations(session, plan.new_locations)
    step()
    tag_ids = _tag_ids(session)
    step()
    created = [row for row in plan.rows if row.action == "create"]
    changed = [row for row in plan.rows if row.action == "update"]
    _insert_items(session, created, location_ids, actor)
    step()
    _update_items(session, changed, location_ids)
    step()
    _write_tags(session, created, changed, tag_ids)
    step()
    _write_history(session, created, changed, location_ids, actor)
    step()
    touched = [row.item_id for row in (*created, *changed) if row.item_id is not None]
    numbers = [asset_number(row.asset_id) for row in created]
    if numbers:
        session.execute(
            text(
                "SELECT setval('item_asset_seq', "
                "GREATEST(:n, (SELECT last_value FROM item_asset_seq)))"
            ),
            {"n": max(numbers)},
        )
    if touched:
        search.refresh_items(session, item_ids=touched)
    photos: list[str] = []
    if add_photos is not None:
        for row in created:
            if row.source is not None and row.source.photos and row.item_id is not None:
                photos.extend(add_photos(session, row.item_id, row.source.photos))
    step()
    return Written(item_ids=touched, photos=photos)


class _Steps:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self) -> None:
        self.done += 1
        if self.progress:
            self.progress(_PLAN_SHARE + (1 - _PLAN_SHARE) * self.done / self.total)


def _create_locations(
    session: Session, new_paths: list[tuple[str, ...]]
) -> dict[tuple[str, ...], int]:
    """Every location id by lower-case path, creating the planned new ones (parents first)."""
    tree = LocationTree.load(session)
    index = {tuple(n.lower() for n in tree.names(node)): node for node in tree.nodes}
    for path in sorted(new_paths, key=len):
        key = tuple(part.lower() for part in path)
        if key in index:
            continue
        parent = index.get(key[:-1]) if len(key) > 1 else None
        # A location made meanwhile by someone else: the insert does nothing, we find it.
        created = session.scalar(
            pg_insert(Location)
            .values(name=path[-1], parent_id=parent)
            .on_conflict_do_nothing()
            .returning(Location.id)
        )
        if created is None:
            created = session.scalar(
                select(Location.id).where(
                    Location.parent_id.is_(None)
                    if parent is None
                    else Location.parent_id == parent,
                    func.lower(Location.name) == path[-1].lower(),
                )
            )
        assert created is not None
        index[key] = created
    return index


def _location_id(index: dict[tuple[str, ...], int], path: tuple[str, ...] | None) -> int | None:
    return index[tuple(part.lower() for part in path)] if path else None


def _tag_ids(session: Session) -> dict[str, int]:
    return {name.lower(): tag_id for tag_id, name in session.execute(select(Tag.id, Tag.name))}


def _insert_items(
    session: Session,
    rows: list[RowPlan],
    location_ids: dict[tuple[str, ...], int],
    actor: User | None,
) -> None:
    if not rows:
        return
    statement = insert(_ITEMS).returning(_ITEMS.c.id, sort_by_parameter_order=True)
    for chunk in _chunks(rows):
        params = [
            {
                **row.values,
                "asset_id": row.asset_id,
                "import_ref": row.import_ref,
                "location_id": _location_id(location_ids, row.location),
                "created_by_id": actor.id if actor else None,
            }
            for row in chunk
        ]
        for row, item_id in zip(chunk, session.execute(statement, params).scalars(), strict=True):
            row.item_id = item_id


def _update_items(
    session: Session, rows: list[RowPlan], location_ids: dict[tuple[str, ...], int]
) -> None:
    if not rows:
        return
    statement = (
        update(_ITEMS)
        .where(_ITEMS.c.id == bindparam("b_id"))
        .values(
            {
                **{name: bindparam(f"b_{name}") for name in FIELD_NAMES},
                "location_id": bindparam("b_location_id"),
                "version": _ITEMS.c.version + 1,
                "updated_at": func.now(),
            }
        )
    )
    for chunk in _chunks(rows):
        session.execute(
            statement,
            [
                {
                    **{f"b_{name}": row.values[name] for name in FIELD_NAMES},
                    "b_id": row.item_id,
                    "b_location_id": _location_id(location_ids, row.location),
                }
                for row in chunk
            ],
        )


def _write_tags(
    session: Session, created: list[RowPlan], changed: list[RowPlan], tag_ids: dict[str, int]
) -> None:
    retagged = [row for row in changed if row.tags_changed]
    wanted = {name.lower(): name for row in (*created, *retagged) for name in row.tags}
    missing = [name for key, name in wanted.items() if key not in tag_ids]
    if missing:
        # Two imports may add the same new tag at once: the loser simply finds it.
        session.execute(
            pg_insert(Tag).values([{"name": name} for name in missing]).on_conflict_do_nothing()
        )
        tag_ids.update(_tag_ids(session))
    if retagged:
        for chunk in _chunks([row.item_id for row in retagged]):
            session.execute(item_tags.delete().where(item_tags.c.item_id.in_(chunk)))
    pairs = [
        {"item_id": row.item_id, "tag_id": tag_ids[name.lower()]}
        for row in (*created, *retagged)
        for name in row.tags
    ]
    for chunk in _chunks(pairs):
        session.execute(insert(item_tags), list(chunk))


def _write_history(
    session: Session,
    created: list[RowPlan],
    changed: list[RowPlan],
    location_ids: dict[tuple[str, ...], int],
    actor: User | None,
) -> None:
    who = {
        "actor_id": actor.id if actor else None,
        "actor_name": actor.username if actor else "system",
    }

    def location(path_display: Any, path: tuple[str, ...] | None) -> Any:
        if path is None:
            return None
        return {"id": _location_id(location_ids, path), "path": path_display}

    records: list[dict[str, Any]] = []
    for row in created:
        snapshot = {**row.after, "location": location(row.after["location"], row.location)}
        records.append(
            {
                **who,
                "item_id": row.item_id,
                "action": "created",
                "field": None,
                "old_value": None,
                "new_value": snapshot,
            }
        )
    for row in changed:
        for change in row.changes:
            old, new = change["old"], change["new"]
            if change["field"] == "location":
                old = _old_location(row)
                new = location(new, row.location)
            records.append(
                {
                    **who,
                    "item_id": row.item_id,
                    "action": "updated",
                    "field": change["field"],
                    "old_value": old,
                    "new_value": new,
                }
            )
    for chunk in _chunks(records):
        session.execute(insert(_HISTORY), list(chunk))


def _old_location(row: RowPlan) -> Any:
    assert row.before is not None
    if row.before_location_id is None:
        return None
    return {"id": row.before_location_id, "path": row.before["location"]}


def _row_errors(line: int, messages: Any) -> list[RowError]:
    """Flatten marshmallow's nested messages into one error per field."""
    if not isinstance(messages, dict):
        return [RowError(line=line, field=None, message=str(messages))]
    errors = []
    for name, value in messages.items():
        if isinstance(value, list):
            text_value = "; ".join(map(str, value))
        elif isinstance(value, dict):
            text_value = "; ".join(f"{k}: {v}" for k, v in value.items())
        else:
            text_value = str(value)
        errors.append(
            RowError(line=line, field=None if name == "_schema" else name, message=text_value)
        )
    return errors
