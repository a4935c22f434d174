"""/images/<name>: photo files, only for signed-in users and token holders.

Behind nginx with filesystem storage (IMAGE_ACCEL_PREFIX set) the app only authorises and
answers with X-Accel-Redirect; nginx then sends the file from the shared images volume.
Otherwise the app sends the bytes itself. Names are content hashes, so caching is forever.
"""

from __future__ import annotations

from flask import Blueprint, request, send_file
from werkzeug.wrappers import Response

from inventory.db.models import Role
from inventory.errors import NotFound
from inventory.photos import uploads as photos
from inventory.photos.store import FilesystemStore, media_type, open_store
from inventory.web.auth import requires
from inventory.web.context import db, settings

bp = Blueprint("images", __name__)
# Private: a shared cache must not hand one user's photo to another; immutable: the name
# is the content hash, so the bytes behind a URL never change.
CACHE_CONTROL = "private, max-age=31536000, immutable"


@bp.route("/<string:name>", methods=["GET"])
@requires(Role.viewer)
def image(name: str) -> Response:
    found = photos.find_image(session=db(), name=name)
    store = open_store(settings=settings(), session=db())
    if isinstance(store, FilesystemStore):
        response = _from_filesystem(store, found.name)
    else:
        response = _from_bytes(store.get(found.name), found.name)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def _from_filesystem(store: FilesystemStore, name: str) -> Response:
    prefix = settings().image_accel_prefix
    if prefix:
        response = Response(status=200, mimetype=media_type(name))
        response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + store.relative(name)
        return response
    path = store.path(name)
    if not path.is_file():
        raise NotFound("no such image")
    return send_file(path, mimetype=media_type(name), etag=name, conditional=True)


def _from_bytes(data: bytes | None, name: str) -> Response:
    if data is None:
        raise NotFound("no such image")
    response = Response(data, mimetype=media_type(name))
    response.set_etag(name)
    return response.make_conditional(request)
