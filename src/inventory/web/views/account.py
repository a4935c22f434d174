"""Your account (password, API tokens) and users for admins."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from inventory import accounts
from inventory.db.models import Role
from inventory.web.auth import requires
from inventory.web.context import current_user, db
from inventory.web.views.forms import attempt

bp = Blueprint("account", __name__)


@bp.get("")
@requires(Role.viewer)
def index() -> str:
    tokens = accounts.list_tokens(session=db(), user=current_user())
    return render_template("account/index.html", tokens=tokens, new_token=None)


@bp.post("/password")
@requires(Role.viewer)
def change_password() -> Response:
    new = request.form.get("new_password", "")[:1024]
    if new != request.form.get("confirm", "")[:1024]:
        flash("the two new passwords differ", "error")
        return redirect(url_for("account.index"))
    return attempt(
        lambda: accounts.change_password(
            session=db(),
            user=current_user(),
            current=request.form.get("current_password", ""),
            new=new,
            keep_session_token=session.get("sid"),
        ),
        then=url_for("account.index"),
        done="password changed; your other sessions were signed out",
    )


@bp.post("/tokens")
@requires(Role.viewer)
def create_token() -> str:
    new = accounts.create_token(
        session=db(), user=current_user(), name=request.form.get("name", "")[:100]
    )
    tokens = accounts.list_tokens(session=db(), user=current_user())
    return render_template("account/index.html", tokens=tokens, new_token=new.secret)


@bp.post("/tokens/<id:token_id>/revoke")
@requires(Role.viewer)
def revoke_token(token_id: int) -> Response:
    accounts.revoke_token(session=db(), user=current_user(), token_id=token_id)
    flash("token revoked")
    return redirect(url_for("account.index"))


@bp.get("/users")
@requires(Role.admin)
def users() -> str:
    return render_template(
        "account/users.html", users=accounts.list_users(session=db()), roles=list(Role)
    )


@bp.post("/users")
@requires(Role.admin)
def create_user() -> Response:
    return attempt(
        lambda: accounts.create_user(
            session=db(),
            username=request.form.get("username", "").strip()[:64],
            password=request.form.get("password", "")[:1024],
            role=accounts.parse_role(request.form.get("role", "")),
        ),
        then=url_for("account.users"),
        done="user created",
    )


@bp.post("/users/<id:user_id>")
@requires(Role.admin)
def update_user(user_id: int) -> Response:
    return attempt(
        lambda: accounts.update_user(
            session=db(),
            user_id=user_id,
            role=accounts.parse_role(request.form.get("role", "")),
            active=request.form.get("active") == "on",
        ),
        then=url_for("account.users"),
        done="user updated",
    )
