"""Photos of an item: upload (multipart), list, reorder, choose the primary, delete."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint
from flask_smorest.fields import Upload as UploadField
from marshmallow import Schema, fields, validate

from inventory.db.models import Photo, Role
from inventory.photos import uploads as service
from inventory.photos.store import ImageStore, open_store
from inventory.web.api.schemas import PhotoSchema, StrictSchema
from inventory.web.auth import requires
from inventory.web.context import current_user, db, settings

blp = Blueprint("photos", __name__, description="Photos of items: JPEG, PNG, WebP, HEIC")


class PhotoUploadSchema(Schema):
    photos = fields.List(
        UploadField(),
        required=True,
        validate=validate.Length(min=1, max=service.MAX_FILES_PER_UPLOAD),
        metadata={"description": "One or more image files (field `photos`, repeated)."},
    )


class PhotoListSchema(Schema):
    photos = fields.List(fields.Nested(PhotoSchema))


class PhotoOrderSchema(StrictSchema):
    photo_ids = fields.List(
        fields.Integer(strict=True),
        required=True,
        validate=validate.Length(max=1000),
        metadata={"description": "Every photo id of the item, in the new order."},
    )


class PhotoUpdateSchema(StrictSchema):
    is_primary = fields.Boolean(
        required=True,
        validate=validate.Equal(True),
        metadata={"description": "true: make this the item's primary photo."},
    )


def _store() -> ImageStore:
    return open_store(settings=settings(), session=db())


@blp.route("/<id:item_id>/photos", methods=["GET"])
@blp.response(200, PhotoListSchema)
@requires(Role.viewer)
def list_photos(item_id: int) -> dict[str, list[Photo]]:
    """The item's photos in display order, with their /images/ URLs."""
    return {"photos": service.list_photos(session=db(), item_id=item_id)}


@blp.route("/<id:item_id>/photos", methods=["POST"])
@blp.arguments(PhotoUploadSchema, location="files")
@blp.response(201, PhotoListSchema)
@blp.alt_response(413, description="A file is larger than MAX_UPLOAD_MB")
@blp.alt_response(415, description="A file is not a JPEG, PNG, WebP or HEIC/HEIF image")
@blp.alt_response(422, description="A file is damaged, empty or has too many pixels")
@requires(Role.editor)
def upload_photos(data: dict[str, Any], item_id: int) -> dict[str, list[Photo]]:
    """Upload photos (multipart/form-data, field `photos`, one or many). Every file is
    checked by its content; one bad file refuses the whole request and nothing is kept."""
    uploads = [
        service.Upload(filename=file.filename or "", stream=file.stream)
        for file in request.files.getlist("photos")
    ]
    created = service.add_photos(
        session=db(),
        item_id=item_id,
        uploads=uploads,
        actor=current_user(),
        store=_store(),
        max_bytes=settings().max_upload_mb * 1024 * 1024,
    )
    return {"photos": created}


@blp.route("/<id:item_id>/photos/order", methods=["PUT"])
@blp.arguments(PhotoOrderSchema)
@blp.response(200, PhotoListSchema)
@requires(Role.editor)
def reorder_photos(data: dict[str, Any], item_id: int) -> dict[str, list[Photo]]:
    """Set the order of all the item's photos."""
    photos = service.reorder_photos(session=db(), item_id=item_id, photo_ids=data["photo_ids"])
    return {"photos": photos}


@blp.route("/<id:item_id>/photos/<id:photo_id>", methods=["PATCH"])
@blp.arguments(PhotoUpdateSchema)
@blp.response(200, PhotoSchema)
@requires(Role.editor)
def update_photo(data: dict[str, Any], item_id: int, photo_id: int) -> Photo:
    """Make a photo the item's primary one."""
    return service.set_primary(session=db(), item_id=item_id, photo_id=photo_id)


@blp.route("/<id:item_id>/photos/<id:photo_id>", methods=["DELETE"])
@blp.response(204)
@requires(Role.editor)
def delete_photo(item_id: int, photo_id: int) -> None:
    """Delete a photo (its files too, unless another item has the same picture)."""
    service.delete_photo(
        session=db(), item_id=item_id, photo_id=photo_id, actor=current_user(), store=_store()
    )
