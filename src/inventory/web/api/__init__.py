"""The JSON API under /api/v1, documented by an OpenAPI 3.1 document generated from the code.

The document is the contract: every operation has an operationId and documents the 503 that
any of them answers while the database is away, and a query parameter it does not list is
refused rather than ignored."""

from __future__ import annotations

import http
from pathlib import Path
from typing import Any

import flask_swagger_ui
from apispec import BasePlugin
from flask import Flask, current_app, render_template, request, send_from_directory
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from werkzeug.wrappers import Response

from inventory import __version__
from inventory.errors import InvalidInput
from inventory.validation import MAX_ID
from inventory.web.api import accounts, items, jobs, locations, photos, search, tags, transfer
from inventory.web.api.schemas import ProblemSchema
from inventory.web.auth import public
from inventory.web.errors import PROBLEM, handle_http_exception

PREFIX = "/api/v1"
# app.extensions key: {(URL rule, method): the query parameters the operation documents}.
QUERY_PARAMETERS = "inventory.api_query_parameters"
# Swagger UI's distribution, as the flask-swagger-ui package ships it.
SWAGGER_UI = Path(flask_swagger_ui.__file__).parent / "dist"


class Contract(BasePlugin):
    """Completes each operation as the spec is built, and remembers its query parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.query_parameters: dict[tuple[str, str], frozenset[str]] = {}
        self._operation_ids: set[str] = set()

    def init_spec(self, spec: Any) -> None:
        """A new document (each app builds its own): start afresh."""
        super().init_spec(spec)
        self.query_parameters = {}
        self._operation_ids = set()

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        rule = kwargs["rule"]
        for method, operation in (operations or {}).items():
            operation_id = _camel(rule.endpoint.rsplit(".", 1)[-1])
            if operation_id in self._operation_ids:
                raise ValueError(f"two API operations would be called {operation_id}")
            self._operation_ids.add(operation_id)
            operation["operationId"] = operation_id
            operation.setdefault("responses", {}).setdefault("503", "SERVICE_UNAVAILABLE")
            names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            self.query_parameters[(rule.rule, method.upper())] = frozenset(names)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def refuse_unknown_query_parameters() -> None:
    """A query parameter the operation does not document is an error, never ignored."""
    rule = request.url_rule
    if rule is None or not request.path.startswith(PREFIX):
        return
    method = "GET" if request.method == "HEAD" else request.method
    allowed = current_app.extensions[QUERY_PARAMETERS].get((rule.rule, method))
    if allowed is None:
        return  # not an API operation (the docs page, its assets)
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown query parameter(s): {', '.join(unknown)}",
            errors={name: ["unknown query parameter"] for name in unknown},
        )


class Api(SmorestApi):  # type: ignore[misc]
    """flask-smorest with RFC 9457 problem responses in the handler and in the document."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: Any) -> Response:
        return handle_http_exception(error)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


contract = Contract()
api = Api(spec_kwargs={"extra_plugins": [contract]})


def configure(app: Flask, id_converter: type) -> None:
    app.config.update(
        API_TITLE="Inventory API",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    api.init_app(app)
    api.register_converter(
        id_converter, lambda _: {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    )
    for module, path in (
        (items, "/items"),
        (photos, "/items"),
        (locations, "/locations"),
        (tags, "/tags"),
        (search, "/search"),
        (transfer, "/transfer"),
        (jobs, "/jobs"),
        (accounts, ""),
    ):
        api.register_blueprint(module.blp, url_prefix=PREFIX + path)
    app.extensions[QUERY_PARAMETERS] = contract.query_parameters
    app.before_request(refuse_unknown_query_parameters)
    app.add_url_rule(f"{PREFIX}/docs", "api_docs", _docs_page)
    app.add_url_rule(f"{PREFIX}/docs/assets/<path:name>", "api_docs_assets", _docs_asset)


@public
def _docs_page() -> str:
    """The browsable API documentation (Swagger UI, started by a script file: strict CSP)."""
    return render_template("api_docs.html")


@public
def _docs_asset(name: str) -> Response:
    """Swagger UI's files come from a pinned Python package: the docs work offline."""
    return send_from_directory(SWAGGER_UI, name, max_age=86400)
