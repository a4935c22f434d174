"""Who may do what: every route, API and pages, × anonymous, viewer, editor, admin, a revoked
token and an expired session. The expected role of each route is written out here from the
documented policy, independently of the decorators in the code."""

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from inventory.db.models import Role, UserSession
from inventory.db.session import Database
from tests.conftest import PASSWORD, ApiClient
from tests.helpers import signed_in

PUBLIC = {"/health", "/login", "/logout", "/setup", "/metrics", "/api/v1/openapi.json"}


def _needed_role(path: str, method: str) -> Role:
    """The documented policy, written out independently of the code's decorators."""
    if path.startswith("/api/v1/users"):
        return Role.admin
    if path.startswith("/api/v1/me") or method == "GET":
        return Role.viewer
    return Role.editor


def _needed_page_role(path: str, method: str) -> Role:
    if path.startswith("/account/users"):
        return Role.admin
    if path.startswith("/account/import") or path.endswith(("/new", "/edit")):
        return Role.editor
    if method == "GET" or path in ("/scan", "/account/password"):
        return Role.viewer
    # Everyone manages their own API tokens; every other form changes the inventory.
    return Role.viewer if path.startswith("/account/tokens") else Role.editor


def _routes(app: Flask, pages: bool = False) -> list[tuple[str, str]]:
    """(method, path) of every protected API route, or with `pages` of every page."""
    routes = []
    for rule in app.url_map.iter_rules():
        is_api = rule.rule.startswith("/api/")
        if pages == is_api or rule.rule in PUBLIC or rule.endpoint == "static":
            continue
        if rule.rule.startswith("/api/v1/docs"):
            continue
        path = rule.rule
        for argument in rule.arguments:
            # An id that exists for no resource: the check must come before the lookup.
            path = re.sub(rf"<(\w+:)?{argument}>", "99999" if "<id:" in path else "x", path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


def _call(client: Any, method: str, path: str, **kwargs: Any) -> Any:
    body = {} if method in ("POST", "PATCH", "PUT") else None
    response = getattr(client, method.lower())(path, json=body, **kwargs)
    response.get_data()
    response.close()  # as a WSGI server would: ends a streamed body and its database session
    return response


def test_every_route_is_covered(app: Flask) -> None:
    assert len(_routes(app)) >= 25
    assert len(_routes(app, pages=True)) >= 25


def test_anonymous_gets_401_everywhere(app: Flask) -> None:
    client = app.test_client()
    for method, path in _routes(app):
        response = _call(client, method, path)
        assert response.status_code == 401, (method, path)
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("role", list(Role))
def test_roles_get_exactly_what_the_policy_allows(app: Flask, make_api: Any, role: Role) -> None:
    client: ApiClient = make_api(role.value)
    for method, path in _routes(app):
        response = _call(client, method, path)
        if role.allows(_needed_role(path, method)):
            assert response.status_code not in (401, 403), (role, method, path, response.json)
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)


def test_revoked_token_is_refused(app: Flask, admin: ApiClient) -> None:
    tokens = admin.get("/api/v1/me/tokens").json["tokens"]
    assert admin.delete(f"/api/v1/me/tokens/{tokens[0]['id']}").status_code == 204
    response = admin.get("/api/v1/items")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_garbage_tokens_are_refused(app: Flask) -> None:
    client = app.test_client()
    for header in ("Bearer", "Bearer inv_nope", "Basic YWRtaW46YWRtaW4=", "Bearer " + "x" * 5000):
        response = client.get("/api/v1/items", headers={"Authorization": header})
        assert response.status_code == 401, header


def test_public_endpoints_answer_anonymously(app: Flask, database: Any) -> None:
    client = app.test_client()
    assert client.get("/health").json["database"] == "ok"
    assert client.get("/api/v1/openapi.json").json["openapi"].startswith("3.")
    assert client.get("/api/v1/docs").status_code == 200
    assert client.get("/login").location == "/setup"  # a new installation: no users yet
    assert client.get("/setup").status_code == 200


def test_pages_redirect_to_login_when_signed_out(app: Flask, database: Any) -> None:
    response = app.test_client().get("/")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=/")


# ---- pages: a browser session per role, and the states a browser can be in -------------------


def _browser(app: Flask, make_api: Any, role: str) -> tuple[FlaskClient, str]:
    """A client signed in through the form as a new user with `role`, and its CSRF token."""
    make_api(role, username=f"{role}-browser")
    client = signed_in(app, f"{role}-browser")
    page = client.get("/").get_data(as_text=True)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert csrf
    return client, csrf[1]


def _visit(client: FlaskClient, method: str, path: str, csrf: str = "", **kwargs: Any) -> Any:
    if method == "POST" and "data" not in kwargs:
        kwargs["data"] = {"csrf_token": csrf}
    response = client.open(path, method=method, **kwargs)
    response.get_data()
    response.close()
    return response


def _sent_to_sign_in(response: Any, path: str) -> bool:
    if path.startswith("/images/"):  # an <img> cannot follow a redirect: a plain 401
        return bool(response.status_code == 401)
    return response.status_code == 302 and response.location.startswith("/login?next=")


@pytest.mark.parametrize("role", list(Role))
def test_pages_give_each_role_exactly_what_the_policy_allows(
    app: Flask, make_api: Any, role: Role
) -> None:
    client, csrf = _browser(app, make_api, role.value)
    for method, path in _routes(app, pages=True):
        response = _visit(client, method, path, csrf)
        if role.allows(_needed_page_role(path, method)):
            assert response.status_code not in (401, 403), (role, method, path)
            assert not _sent_to_sign_in(response, path), (role, method, path)
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)


def test_signed_out_browsers_are_sent_to_sign_in_everywhere(app: Flask, database: Any) -> None:
    client = app.test_client()
    for method, path in _routes(app, pages=True):
        assert _sent_to_sign_in(_visit(client, method, path), path), (method, path)


def test_public_forms_still_need_their_csrf_token(app: Flask, make_api: Any) -> None:
    make_api("admin", username="ann")
    client = app.test_client()
    for path, form in (("/login", {"username": "ann", "password": PASSWORD}), ("/setup", {})):
        response = _visit(client, "POST", path, data=form)
        assert response.status_code == 403, path
        assert "CSRF" in response.get_data(as_text=True), path


def test_an_expired_session_counts_as_signed_out(
    app: Flask, make_api: Any, database: Database
) -> None:
    client, csrf = _browser(app, make_api, "admin")
    with database.engine.begin() as conn:
        conn.execute(update(UserSession).values(expires_at=UserSession.created_at))
    for method, path in _routes(app, pages=True):
        response = _visit(client, method, path, csrf)
        assert _sent_to_sign_in(response, path), (method, path, response.status_code)
    for method, path in _routes(app):
        response = _call(client, method, path, headers={"X-CSRFToken": csrf})
        assert response.status_code == 401, (method, path)


def test_a_revoked_token_opens_no_page(app: Flask, admin: ApiClient) -> None:
    tokens = admin.get("/api/v1/me/tokens").json["tokens"]
    assert admin.delete(f"/api/v1/me/tokens/{tokens[0]['id']}").status_code == 204
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {admin.token}"}
    for method, path in _routes(app, pages=True):
        assert _visit(client, method, path, headers=bearer).status_code == 401, (method, path)
