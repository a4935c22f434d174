"""Request ids, one structured log line per request, and Prometheus metrics at /metrics.

Under Gunicorn the workers share their metrics through PROMETHEUS_MULTIPROC_DIR (set by
`inventory serve`), so any worker answers for all. /metrics is readable by admins, or by
direct (not proxied) requests from loopback and private addresses, e.g. a Prometheus on the
same Docker network; nginx does not pass it through.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from inventory.db.models import Role
from inventory.errors import Forbidden
from inventory.web.auth import load_principal, public
from inventory.web.context import principal

log = logging.getLogger("inventory.access")
REQUEST_ID = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REQUESTS = Counter(
    "inventory_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"]
)
LATENCY = Histogram(
    "inventory_http_request_seconds", "Time to answer", ["endpoint"], buckets=_LATENCY_BUCKETS
)
SEARCH_LATENCY = Histogram(
    "inventory_search_seconds", "Time to answer a search", buckets=_LATENCY_BUCKETS
)
EMBEDDING_QUEUE = Gauge(
    "inventory_embedding_queue_items", "Items waiting for new vectors", multiprocess_mode="livesum"
)
POOL_IN_USE = Gauge(
    "inventory_db_pool_connections_in_use",
    "Database connections checked out",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "inventory_db_pool_connections_open", "Database connections open", multiprocess_mode="livesum"
)


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every log record (empty outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "") if has_request_context() else ""
        return True


def configure_logging(log_format: str) -> None:
    """Text for people at a terminal, JSON (one object per line) for log collectors."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s [%(request_id)s]")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def _start() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID, "")
    g.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    endpoint = request.endpoint or "unmatched"
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    LATENCY.labels(endpoint).observe(elapsed)
    if endpoint == "search.search":
        SEARCH_LATENCY.observe(elapsed)
    response.headers[REQUEST_ID] = g.get("request_id", "")
    # The path only: query strings may carry search words, never worth a log line.
    log.info(
        "%s %s %s %.1f ms",
        request.method,
        request.path,
        response.status_code,
        elapsed * 1000,
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 1),
        },
    )
    return response


def _inside(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private


@public
def metrics() -> Response:
    """Prometheus text format, for admins and for scrapers inside the network."""
    direct = "X-Forwarded-For" not in request.headers
    if not (direct and _inside(request.remote_addr)):
        load_principal()
        found = principal()
        if found is None or not found.user.role.allows(Role.admin):
            raise Forbidden("metrics are for admins and for scrapers inside the network")
    _sample_gauges()
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


def _sample_gauges() -> None:
    queue = current_app.extensions.get("inventory.embedding_queue")
    EMBEDDING_QUEUE.set(queue.pending() if queue is not None else 0)
    pool: Any = current_app.extensions["inventory.database"].engine.pool
    POOL_IN_USE.set(pool.checkedout())
    POOL_SIZE.set(pool.checkedin() + pool.checkedout())


def _registry() -> Any:
    """All workers' metrics when running under Gunicorn, this process's otherwise."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import REGISTRY

        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def register(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    app.add_url_rule("/metrics", "metrics", metrics)
