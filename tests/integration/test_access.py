"""Who may do what: every API route × anonymous, viewer, editor, admin and a revoked token."""

from typing import Any

import pytest
from flask import Flask

from inventory.db.models import Role
from tests.conftest import ApiClient

PUBLIC = {"/health", "/login", "/logout", "/api/v1/openapi.json", "/api/v1/docs"}


def _needed_role(path: str, method: str) -> Role:
    """The documented policy, written out independently of the code's decorators."""
    if path.startswith("/api/v1/users"):
        return Role.admin
    if path.startswith("/api/v1/me") or method == "GET":
        return Role.viewer
    return Role.editor


def _routes(app: Flask) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.startswith("/api/v1/docs"):
            continue
        if rule.rule in PUBLIC:
            continue
        path = rule.rule
        for argument in rule.arguments:
            # An id that exists for no resource: the check must come before the lookup.
            path = path.replace(f"<id:{argument}>", "99999").replace(f"<{argument}>", "x")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


def _call(client: Any, method: str, path: str, **kwargs: Any) -> Any:
    body = {} if method in ("POST", "PATCH", "PUT") else None
    response = getattr(client, method.lower())(path, json=body, **kwargs)
    response.get_data()
    response.close()  # as a WSGI server would: ends a streamed body and its database session
    return response


def test_every_api_route_is_covered(app: Flask) -> None:
    assert len(_routes(app)) >= 25


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
