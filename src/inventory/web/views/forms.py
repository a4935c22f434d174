"""Turning HTML form posts into the same validated input the API takes, and errors back
into messages beside their fields (nothing the user typed is lost)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from inventory.catalog.fields import ITEM_FIELDS
from inventory.catalog.history import json_value
from inventory.catalog.tree import LocationTree
from inventory.db.models import Item
from inventory.errors import DomainError
from inventory.web.context import db


def item_input(form: MultiDict[str, str]) -> dict[str, Any]:
    """The item form as API-shaped input: tags split on commas, custom fields from rows."""
    data: dict[str, Any] = {}
    for field in ITEM_FIELDS:
        raw = form.get(field.name, "")
        match field.kind:
            case "text" | "long_text":
                data[field.name] = raw
            case "amount" | "date":
                data[field.name] = raw.strip() or (None if field.nullable else "0")
            case "flag":
                data[field.name] = raw == "on"
            case "custom_fields":
                data[field.name] = _custom_fields(form)
    data["location"] = form.get("location", "").strip() or None
    data["tags"] = [tag.strip() for tag in form.get("tags", "").split(",") if tag.strip()]
    return data


def item_values(item: Item, tree: LocationTree) -> dict[str, Any]:
    """An item as the form shows it: text in every field (custom fields come as rows)."""
    values: dict[str, Any] = {}
    for field in ITEM_FIELDS:
        value = getattr(item, field.name)
        match field.kind:
            case "flag":
                values[field.name] = "on" if value else ""
            case "custom_fields":
                pass
            case _:
                values[field.name] = "" if value is None else json_value(value)
    values["location"] = "/".join(tree.names(item.location_id))
    values["tags"] = ", ".join(tag.name for tag in item.tags)
    values["version"] = item.version
    return values


def _custom_fields(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    rows = zip(
        form.getlist("cf_name"), form.getlist("cf_type"), form.getlist("cf_value"), strict=False
    )
    fields = []
    for name, kind, raw in rows:
        if not name.strip() and not raw.strip():
            continue
        fields.append({"name": name, "type": kind, "value": _typed(kind, raw.strip())})
    return fields


def _typed(kind: str, raw: str) -> Any:
    """Form values are text; custom fields keep their type (a bad number stays text and is
    then refused by the schema with a message)."""
    if raw == "":
        return None
    if kind == "number":
        try:
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        except ValueError:
            return raw
    if kind == "boolean":
        return raw.lower() in ("true", "yes", "1", "on")
    return raw


def validate(
    schema: Schema, data: dict[str, Any], **kwargs: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """(clean input, {}) or ({}, {field: message}) — messages flattened for display."""
    try:
        return schema.load(data, **kwargs), {}
    except ValidationError as exc:
        return {}, flatten(exc.messages)


def flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(messages, list):
        texts = [m for m in messages if isinstance(m, str)]
        nested = [m for m in messages if isinstance(m, dict)]
        flat = {prefix or "_form": " ".join(texts)} if texts else {}
        for entry in nested:
            flat.update(flatten(entry, prefix))
        return flat
    if isinstance(messages, dict):
        flat = {}
        for key, value in messages.items():
            name = "_form" if key == "_schema" else (prefix if prefix else str(key))
            flat.update(flatten(value, name))
        return flat
    return {prefix or "_form": str(messages)}


def domain_errors(error: DomainError) -> dict[str, str]:
    """The error's sentence for the top of the form, and its field messages beside fields."""
    fields = {name: " ".join(messages) for name, messages in error.errors.items()}
    return {**fields, "_form": error.detail}


def attempt(change: Callable[[], object], *, then: str, done: str | None = None) -> Response:
    """Run a change from a form, say how it went on the next page, and go there."""
    try:
        change()
        if done:
            flash(done)
    except DomainError as exc:
        db().rollback()
        flash(exc.detail, "error")
    return redirect(then)
