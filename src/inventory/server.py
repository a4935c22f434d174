"""Gunicorn, started from code so that `inventory serve` is the same everywhere (a venv on
a Pi, the container). The app is built once in the master before forking (--preload)."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from inventory.app import create_app
from inventory.db import migrate
from inventory.db.session import open_database
from inventory.settings import Settings

log = logging.getLogger(__name__)


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


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    database = open_database(settings)
    migrate.upgrade(database.engine)
    app = create_app(settings, database)
    database.engine.dispose()  # no pooled connection may cross the fork

    def post_fork(_server: Any, _worker: Any) -> None:
        database.after_fork()

    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "preload_app": True,
        "post_fork": post_fork,
        "timeout": 60,
        "graceful_timeout": 20,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "inventory",
    }
    log.info("serving on http://%s:%d with %d workers", host, port, workers)
    _Gunicorn(app, options).run()
