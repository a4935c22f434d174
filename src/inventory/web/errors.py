"""Errors as RFC 9457 problem details for the API, as short pages for browsers.
No input produces a stack trace: unexpected errors are logged and answered with a 500
that says nothing about the internals."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from inventory.errors import DomainError, TooManyAttempts
from inventory.web.auth import is_api_request

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str = "",
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A problem response; `extra` adds extension members (RFC 9457 §3.2)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        **(extra or {}),
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    if not is_api_request() and request.accept_mimetypes.accept_html:
        response = Response(
            render_template("error.html", status=status, title=title, detail=detail), status
        )
    else:
        response = jsonify(body)
        response.status_code = status
        response.mimetype = PROBLEM
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages: Any) -> dict[str, Any]:
    """webargs nests errors by location ({"json": {...}}); clients want them by field."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def _describe(errors: dict[str, Any]) -> str:
    parts = []
    for name, value in errors.items():
        text = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(text if name == "_schema" else f"{name}: {text}")
    return "; ".join(parts)


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = _flatten(data["messages"]) if "messages" in data else None
    detail = _describe(errors) if errors else (error.description or "")
    if status == 400 and "JSON" in detail:
        detail = "the request body is not valid JSON"
    return problem(status, error.name, detail, errors, headers=data.get("headers"))


def handle_domain_error(error: DomainError) -> Response:
    headers = {}
    if isinstance(error, TooManyAttempts):
        headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="inventory"'
    return problem(error.status, error.title, error.detail, error.errors or None, headers)


def handle_csrf_error(error: CSRFError) -> Response:
    return problem(403, "Forbidden", f"CSRF check failed: {error.description}")


def handle_database_unavailable(error: DBAPIError | psycopg.OperationalError) -> Response:
    cause = error.orig if isinstance(error, DBAPIError) else error
    log.warning("database unavailable: %s", type(cause).__name__)
    return problem(
        503,
        "Service Unavailable",
        "the database is not reachable; try again shortly",
        headers={"Retry-After": "5"},
    )


def handle_integrity_error(error: IntegrityError) -> Response:
    """A constraint caught what the services' checks missed, e.g. two requests racing."""
    log.warning("integrity error: %s", type(error.orig).__name__)
    return problem(409, "Conflict", "the change conflicts with another one; reload and retry")


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "Internal Server Error", "an unexpected error occurred; it was logged")


def register(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    # The same, raised by the driver itself where code uses its connection directly.
    app.register_error_handler(psycopg.OperationalError, handle_database_unavailable)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(Exception, handle_unexpected)
