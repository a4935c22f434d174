"""A browser-like HTTPS client for the compose tests: one cookie jar, CSRF token, no
redirects followed."""

from __future__ import annotations

import http.client
import io
import json
import re
import ssl
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

CSRF_FIELD = 'name="csrf_token" value="([^"]+)"'  # the hidden field of every form


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Client:
    """A browser-like HTTPS client: one cookie jar, no redirects followed."""

    port: int
    context: ssl.SSLContext
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        cookies: bool = True,
    ) -> Response:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=30)
        sent = dict(headers or {})
        if cookies and self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=sent)
            reply = conn.getresponse()
            data = reply.read()
            for value in reply.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(value).items():
                    self.cookies[name] = morsel.value
            return Response(reply.status, {k.lower(): v for k, v in reply.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def api(self, method: str, path: str, payload: Any = None) -> Response:
        headers = {"X-CSRFToken": self.csrf, "Accept": "application/json"}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        return self.request(method, path, body=body, headers=headers)

    def upload_photo(self, item_id: int, filename: str = "photo.jpg") -> Response:
        """A real JPEG (Pillow) to the item's photos, as the add-photo form sends it."""
        body, content_type = multipart("photos", filename, jpeg(), "image/jpeg")
        return self.request(
            "POST",
            f"/api/v1/items/{item_id}/photos",
            body=body,
            headers={"Content-Type": content_type, "X-CSRFToken": self.csrf},
        )

    def sign_in(self, username: str, password: str) -> None:
        form = self.get("/login")
        assert form.status == 200, form.status
        token = csrf_from(form.body, CSRF_FIELD)
        body = urlencode(
            {"username": username, "password": password, "csrf_token": token, "next": "/"}
        ).encode()
        done = self.request(
            "POST",
            "/login",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert done.status in (302, 303), (done.status, done.body[:500])
        # A fresh session starts at sign-in: take the CSRF token of a signed-in page.
        home = self.get("/")
        assert home.status == 200, home.status
        self.csrf = csrf_from(home.body, '<meta name="csrf-token" content="([^"]+)"')


def csrf_from(page: bytes, pattern: str) -> str:
    found = re.search(pattern, page.decode())
    assert found, "no CSRF token in the page"
    return found.group(1)


def jpeg() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (800, 600), (40, 90, 160))
    ImageDraw.Draw(image).rectangle((200, 150, 600, 450), fill=(230, 180, 30))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def multipart(field_name: str, filename: str, data: bytes, mime: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
            f'filename="{filename}"\r\nContent-Type: {mime}\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"
