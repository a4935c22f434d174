"""Sign in and out in the browser."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from inventory.services import accounts
from inventory.services.errors import InvalidInput, TooManyAttempts
from inventory.web.auth import public, safe_next
from inventory.web.context import db

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str | tuple[str, int]:
    next_path = safe_next(request.values.get("next")) or url_for("home.index")
    if request.method == "GET":
        return render_template("login.html", next=next_path, error=None, username="")
    username = request.form.get("username", "")[:64]
    try:
        signed_in = accounts.sign_in(
            session=db(),
            username=username,
            password=request.form.get("password", "")[:1024],
            address=request.remote_addr or "unknown",
        )
    except (InvalidInput, TooManyAttempts) as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 401
        page = render_template("login.html", next=next_path, error=exc.detail, username=username)
        return page, status
    session.clear()  # a fresh session at sign-in: no fixation
    session["sid"] = signed_in.session_token
    session.permanent = True
    return redirect(next_path)


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Response:
    token = session.get("sid")
    if isinstance(token, str):
        accounts.sign_out(session=db(), token=token)
    session.clear()
    return redirect(url_for("auth.login"))
