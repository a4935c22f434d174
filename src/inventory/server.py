"""Gunicorn, started from code so that `inventory serve` is the same everywhere (a venv on
a Pi, the container). The app is built once in the master before forking (--preload)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.sync import SyncWorker

from inventory.settings import Settings

log = logging.getLogger(__name__)


class DrainingWorker(SyncWorker):  # type: ignore[misc]
    """On SIGTERM, stop listening at once, then finish the request in hand. Connections that
    arrive meanwhile are refused, which nginx retries on another replica (a rolling update),
    instead of waiting in a backlog that is reset when the worker exits."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        for listener in self.sockets:
            listener.close()


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def _shared_metrics_dir() -> Path:
    """Where the workers' metrics meet; must be set before prometheus_client is imported."""
    path = Path(tempfile.gettempdir()) / f"inventory-metrics-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    metrics_dir = _shared_metrics_dir()
    from inventory.app import create_app
    from inventory.db.session import open_database
    from inventory.operations.upgrade import upgrade_schema
    from inventory.web.observability import configure_logging

    configure_logging(settings.log_format)
    database = open_database(settings)
    upgrade_schema(settings=settings, database=database)
    app = create_app(settings, database)
    database.engine.dispose()  # no pooled connection may cross the fork

    def post_fork(_server: Any, _worker: Any) -> None:
        database.after_fork()

    def child_exit(_server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]

    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": DrainingWorker,
        "preload_app": True,
        "post_fork": post_fork,
        "child_exit": child_exit,
        "timeout": 60,
        "graceful_timeout": 20,
        "accesslog": None,  # the app logs each request itself, with its request id
        "errorlog": "-",
        "proc_name": "inventory",
        "control_socket_disable": True,  # no socket in $HOME: the container's is read-only
    }
    log.info("serving on http://%s:%d with %d workers", host, port, workers)
    try:
        _Gunicorn(app, options).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
