"""What many tests do the same way: sign in through the form, read a form's CSRF token, run
the `inventory` command, wait until something holds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

PASSWORD = "correct horse battery staple"
# The hidden field every form of the app carries.
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: str | bytes) -> str:
    """The CSRF token of the (first) form on this page."""
    text = page.decode() if isinstance(page, bytes) else page
    match = CSRF_FIELD.search(text)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def form_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on the page at `path`."""
    return csrf_token(client.get(path).get_data(as_text=True))


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    """Sign in through the form, as a browser does; returns the form's answer."""
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": form_token(client)},
    )


def signed_in(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    """A new browser session of `username`, signed in through the form."""
    client = app.test_client()
    response = sign_in(client, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def post_form(client: FlaskClient, path: str, data: Mapping[str, Any], *, page: str) -> Any:
    """Post `data` to `path` with the CSRF token of the form shown at `page`."""
    return client.post(path, data={**data, "csrf_token": form_token(client, page)})


def run_inventory(
    env: Mapping[str, str], *args: str, stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The `inventory` command in a process of its own, run to its end as a person would."""
    return subprocess.run(
        [sys.executable, "-m", "inventory", *args],
        input=stdin,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def wait_until(
    condition: Callable[[], object], *, what: str, within: float = 60, every: float = 0.05
) -> None:
    """Return once `condition()` is true; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"gave up after {within:.0f} s waiting for {what}"
        time.sleep(every)
