"""Who is calling, and may they? Deny by default: a view is reachable only when it declares
the role it needs with `@requires(...)` or is marked `@public`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from inventory import accounts
from inventory.db.models import Role
from inventory.errors import Forbidden, Unauthorized
from inventory.web.context import Principal, db, principal

F = TypeVar("F", bound=Callable[..., Any])
csrf = CSRFProtect()
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def requires(role: Role) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view.required_role = role  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    view.public = True  # type: ignore[attr-defined]
    return view


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def answers_without_redirect() -> bool:
    """API calls and image fetches get 401, never the sign-in page (an <img> can't follow)."""
    return is_api_request() or request.path.startswith("/images/")


def load_principal() -> None:
    """Bearer token first (API clients), else the browser session cookie."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        user = None
        if scheme.lower() == "bearer" and secret.strip():
            user = accounts.resolve_token(session=db(), secret=secret.strip())
        if user is None:
            raise Unauthorized("the bearer token is missing, unknown or revoked")
        g.principal = Principal(user=user, method="token")
        return
    token = session.get("sid")
    if isinstance(token, str):
        user = accounts.resolve_session(session=db(), token=token)
        if user is not None:
            g.principal = Principal(user=user, method="session")
            return
        session.clear()


def _view_attribute(name: str) -> Any:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, name, None)


def enforce_access() -> Response | None:
    """Who may do what, in this order: sign-in, role, then the CSRF token of browser writes
    (so a signed-out browser is sent to sign in, whatever it asked for)."""
    if request.endpoint is None or request.endpoint == "static":
        return None  # 404/405 or a static file
    # The OpenAPI document and its browsable page are public too.
    if _view_attribute("public") or request.endpoint.startswith("api-docs."):
        _check_csrf()  # the sign-in, setup and sign-out forms
        return None
    load_principal()
    found = principal()
    if found is None:
        if answers_without_redirect():
            raise Unauthorized("sign in or send Authorization: Bearer <token>")
        return redirect(url_for("auth.login", next=safe_next(request.full_path)))
    role = _view_attribute("required_role")
    if role is None or not found.user.role.allows(role):
        raise Forbidden(f"your role ({found.user.role.value}) may not do this")
    if found.method == "session":
        _check_csrf()  # browsers' forms and API calls carry it; bearer tokens need none
    return None


def _check_csrf() -> None:
    if request.method not in SAFE_METHODS:
        csrf.protect()


def safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target.rstrip("?") or None
