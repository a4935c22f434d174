"""Sign in and out in the browser."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from inventory import accounts
from inventory.errors import Conflict, InvalidInput, TooManyAttempts
from inventory.web.auth import public, safe_next
from inventory.web.context import db

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str | tuple[str, int]:
    next_path = safe_next(request.values.get("next")) or url_for("home.index")
    if not accounts.has_users(session=db()):
        return redirect(url_for("auth.setup"))
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
    _start_session(signed_in.session_token)
    return redirect(next_path)


def _start_session(token: str) -> None:
    session.clear()  # a fresh session at sign-in: no fixation
    session["sid"] = token
    session.permanent = True


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup() -> Response | str | tuple[str, int]:
    """First run: whoever opens the new installation first creates the admin account."""
    if accounts.has_users(session=db()):
        return redirect(url_for("auth.login"))
    if request.method == "GET":
        return render_template("setup.html", error=None, username="")
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")[:1024]
    error = None
    if password != request.form.get("confirm", "")[:1024]:
        error = "the two passwords differ"
    else:
        try:
            accounts.create_first_admin(session=db(), username=username, password=password)
        except (InvalidInput, Conflict) as exc:
            error = exc.detail
    if error:
        return render_template("setup.html", error=error, username=username), 422
    signed_in = accounts.sign_in(
        session=db(), username=username, password=password, address=request.remote_addr or ""
    )
    _start_session(signed_in.session_token)
    return redirect(url_for("home.index"))


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Response:
    token = session.get("sid")
    if isinstance(token, str):
        accounts.sign_out(session=db(), token=token)
    session.clear()
    return redirect(url_for("auth.login"))
