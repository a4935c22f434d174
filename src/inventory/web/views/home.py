"""The home page."""

from __future__ import annotations

from flask import Blueprint, render_template

from inventory.db.models import Role
from inventory.web.auth import requires
from inventory.web.context import current_user

bp = Blueprint("home", __name__)


@bp.get("/")
@requires(Role.viewer)
def index() -> str:
    return render_template("home.html", user=current_user())
