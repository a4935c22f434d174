"""The JSON API under /api/v1, documented by an OpenAPI 3 document generated from the code."""

from __future__ import annotations

import http
from typing import Any

import swagger_ui_bundle
from flask import Flask, render_template, send_from_directory
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from werkzeug.wrappers import Response

from inventory import __version__
from inventory.validation import MAX_ID
from inventory.web.api import accounts, items, locations, photos, search, tags, transfer
from inventory.web.api.schemas import ProblemSchema
from inventory.web.auth import public
from inventory.web.errors import PROBLEM, handle_http_exception

PREFIX = "/api/v1"


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


api = Api()


def configure(app: Flask, id_converter: type) -> None:
    app.config.update(
        API_TITLE="Inventory API",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
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
        (accounts, ""),
    ):
        api.register_blueprint(module.blp, url_prefix=PREFIX + path)
    app.add_url_rule(f"{PREFIX}/docs", "api_docs", _docs_page)
    app.add_url_rule(f"{PREFIX}/docs/assets/<path:name>", "api_docs_assets", _docs_asset)


@public
def _docs_page() -> str:
    """The browsable API documentation (Swagger UI, started by a script file: strict CSP)."""
    return render_template("api_docs.html")


@public
def _docs_asset(name: str) -> Response:
    """Swagger UI's files come from a pinned Python package: the docs work offline."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, name, max_age=86400)
