"""Turning HTML form posts into the same validated input the API takes, and errors back
into messages beside their fields (nothing the user typed is lost)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from inventory.errors import DomainError
from inventory.web.context import db

ITEM_TEXT_FIELDS = (
    "name",
    "description",
    "unit",
    "manufacturer",
    "model",
    "serial_number",
    "currency",
    "vendor",
    "notes",
)
ITEM_OPTIONAL_FIELDS = ("quantity", "purchase_date", "purchase_price", "warranty_expires")


def item_input(form: MultiDict[str, str]) -> dict[str, Any]:
    """The item form as API-shaped input: tags split on commas, custom fields from rows."""
    data: dict[str, Any] = {name: form.get(name, "") for name in ITEM_TEXT_FIELDS}
    for name in ITEM_OPTIONAL_FIELDS:
        data[name] = form.get(name, "").strip() or None
    if data["quantity"] is None:
        data["quantity"] = "0"
    data["location"] = form.get("location", "").strip() or None
    data["tags"] = [tag.strip() for tag in form.get("tags", "").split(",") if tag.strip()]
    data["archived"] = form.get("archived") == "on"
    data["custom_fields"] = _custom_fields(form)
    return data


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
