"""Server-rendered pages. Each module is one blueprint; `register` wires them all."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask, g

from inventory.db.models import Role


def register(app: Flask) -> None:
    from inventory.web.views import account, auth, home, imports, items, labels, locations

    app.register_blueprint(auth.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(items.bp, url_prefix="/items")
    app.register_blueprint(locations.bp, url_prefix="/locations")
    app.register_blueprint(account.bp, url_prefix="/account")
    app.register_blueprint(imports.bp, url_prefix="/account/import")
    app.register_blueprint(labels.bp)
    app.context_processor(_roles)
    app.add_template_filter(_quantity, "qty")
    app.add_template_filter(_change, "change")


def _roles() -> dict[str, bool]:
    """What the signed-in person may do; templates show edit controls only to editors."""
    principal = g.get("principal")
    role = principal.user.role if principal else None
    return {
        "can_edit": bool(role and role.allows(Role.editor)),
        "is_admin": bool(role and role.allows(Role.admin)),
    }


def _quantity(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)


def _change(value: Any) -> str:
    """A history value in words: paths for locations, lists joined, empty shown as —."""
    if value in (None, "", []):
        return "—"
    if isinstance(value, dict) and "path" in value:
        return str(value["path"])
    if isinstance(value, list):
        return ", ".join(
            f"{v.get('name')}={v.get('value')}" if isinstance(v, dict) else str(v) for v in value
        )
    return str(value)
