"""The application factory: wiring only, nothing is bound at import time."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response

from inventory import imports, jobs, search
from inventory.accounts import SESSION_LIFETIME
from inventory.db.session import Database, open_database
from inventory.embeddings import Embedder, EmbeddingUnavailable, get_embedder
from inventory.photos.store import open_store
from inventory.settings import Settings
from inventory.validation import MAX_ID
from inventory.web import api, errors, health, images, observability, views
from inventory.web.auth import csrf, enforce_access
from inventory.web.context import close_db

log = logging.getLogger(__name__)

# Pages and API answers alike: no framing, no sniffing, only our own scripts and styles.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
}


class IdConverter(IntegerConverter):
    """Path ids that fit the database column: anything else is a plain 404."""

    def __init__(self, url_map: object) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)  # type: ignore[arg-type]


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    embedder: Embedder | None = None,
) -> Flask:
    """Build the app. Starts the embedded database when no POSTGRES_HOST is set and loads the
    embedding model (unless one is given); without a model, search answers by keyword."""
    settings = (settings or Settings.from_env()).with_secret_key()
    settings.check()
    database = database or open_database(settings)

    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="inventory_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Behind the TLS-terminating proxy the cookie must never travel over plain HTTP.
        SESSION_COOKIE_SECURE=settings.proxy_hops > 0,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session it belongs to
        WTF_CSRF_SSL_STRICT=False,  # SameSite cookies cover what the Referer check adds
        WTF_CSRF_CHECK_DEFAULT=False,  # enforce_access checks it, after sign-in and role
        MAX_CONTENT_LENGTH=(max(settings.max_upload_mb * 10, settings.import_max_mb) + 1)
        * 1024
        * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=1),
    )
    app.extensions["inventory.settings"] = settings
    app.extensions["inventory.database"] = database
    _embeddings(app, settings, database, embedder)
    _jobs(app, settings, database)
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.url_map.converters["id"] = IdConverter

    csrf.init_app(app)
    errors.register(app)
    observability.register(app)  # first: even refused requests get an id and a log line
    app.before_request(enforce_access)
    app.teardown_appcontext(close_db)
    app.after_request(_security_headers)

    app.register_blueprint(health.bp)
    views.register(app)
    app.register_blueprint(images.bp, url_prefix="/images")
    api.configure(app, IdConverter)
    return app


def _embeddings(
    app: Flask, settings: Settings, database: Database, embedder: Embedder | None
) -> None:
    """Load the model once per process (before Gunicorn forks) and start re-embedding on commit."""
    if embedder is None:
        try:
            embedder = get_embedder(settings)
        except EmbeddingUnavailable as exc:
            log.warning("semantic search unavailable, keyword search only: %s", exc)
            app.extensions["inventory.embedder_error"] = str(exc)
    app.extensions["inventory.embedder"] = embedder
    if embedder is not None:
        queue = search.EmbeddingQueue(sessions=database.sessions, embedder=embedder)
        queue.attach()
        app.extensions["inventory.embedding_queue"] = queue


def _jobs(app: Flask, settings: Settings, database: Database) -> None:
    """The background job runner; its thread starts in each process on its first request."""
    runner = jobs.JobRunner(
        sessions=database.sessions,
        handlers={
            imports.JOB_KIND: imports.job_handler(
                open_store=lambda session: open_store(settings=settings, session=session),
                max_photo_bytes=settings.max_upload_mb * 1024 * 1024,
            )
        },
        stale_after=settings.job_stale_seconds,
    )
    app.extensions["inventory.jobs"] = runner
    app.before_request(runner.ensure_started)


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
