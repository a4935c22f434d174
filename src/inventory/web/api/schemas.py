"""Response and query schemas of the API (item fields and their validation: catalog.fields)."""

from __future__ import annotations

from typing import Any

from flask import g
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from inventory.catalog import locations
from inventory.catalog.fields import ITEM_FIELDS, ItemFieldsSchema, tag_field
from inventory.catalog.item_queries import SORT_COLUMNS
from inventory.db.models import Item, Location, Photo, Role
from inventory.validation import MAX_ID, Amount, Id, Text
from inventory.web.context import db, location_tree


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.Raw())


# ---- items ----------------------------------------------------------------------------------


class PhotoSchema(Schema):
    id = fields.Integer()
    url = fields.Method("_url", metadata={"type": "string"})
    thumbnail_url = fields.Method("_thumbnail_url", metadata={"type": "string"})
    width = fields.Integer()
    height = fields.Integer()
    position = fields.Integer()
    is_primary = fields.Boolean()

    def _url(self, photo: Photo) -> str:
        return f"/images/{photo.key}-display.{photo.format}"

    def _thumbnail_url(self, photo: Photo) -> str:
        return f"/images/{photo.key}-thumb.{photo.format}"


class ItemSchema(Schema):
    class Meta:
        include = {field.name: field.output() for field in ITEM_FIELDS}  # noqa: RUF012

    id = fields.Integer()
    asset_id = fields.String()
    location_id = fields.Integer(allow_none=True)
    location_path = fields.Method(
        "_location_path", metadata={"type": "string", "example": "Home › Garage › Workbench"}
    )
    tags = fields.Method("_tags", metadata={"type": "array", "items": {"type": "string"}})
    version = fields.Integer()
    photos = fields.List(fields.Nested(PhotoSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _location_path(self, item: Item) -> str:
        return location_tree().path(item.location_id)

    def _tags(self, item: Item) -> list[str]:
        return sorted((tag.name for tag in item.tags), key=str.lower)


class ItemCreateSchema(ItemFieldsSchema):
    pass


class DuplicateSchema(Schema):
    id = fields.Integer(attribute="item.id")
    asset_id = fields.String(attribute="item.asset_id")
    name = fields.String(attribute="item.name")
    location_path = fields.String()
    similarity = fields.Float(attribute="score")


class ItemCreatedSchema(ItemSchema):
    possible_duplicates = fields.Method(
        "_possible_duplicates",
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": "Existing items that look like the same thing (the item is created "
            "anyway; offer to merge).",
        },
    )

    def _possible_duplicates(self, item: Item) -> list[dict[str, Any]]:
        found = g.get("possible_duplicates", {}).get(item.id, [])
        dumped: list[dict[str, Any]] = DuplicateSchema(many=True).dump(found)
        return dumped


class ItemUpdateSchema(ItemFieldsSchema):
    version = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "The version you edited; a stale one is refused with 409."},
    )


class ItemListQuery(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    sort = fields.String(load_default="name", validate=validate.OneOf(list(SORT_COLUMNS)))
    order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))
    location_id = Id(
        strict=False, metadata={"description": "Only items in this location or beneath it."}
    )
    tag = Text(max_length=64)
    archived = fields.String(
        load_default="false", validate=validate.OneOf(["false", "true", "all"])
    )
    q = Text(max_length=500, metadata={"description": "Words to look for."})


class ItemPageSchema(Schema):
    items = fields.List(fields.Nested(ItemSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()


class HistorySchema(Schema):
    id = fields.Integer()
    changed_at = fields.DateTime()
    actor = fields.String(attribute="actor_name")
    action = fields.String()
    field = fields.String(allow_none=True)
    old_value = fields.Raw(allow_none=True)
    new_value = fields.Raw(allow_none=True)


class QuantityChangeSchema(StrictSchema):
    delta = Amount(places=3, low=-(10**11), high=10**11, required=True)


class BulkMoveSchema(StrictSchema):
    item_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=1000))
    location = Text(max_length=1000)
    location_id = Id(allow_none=True)

    @validates_schema
    def _exactly_one_target(self, data: dict[str, Any], **_: Any) -> None:
        if ("location" in data) == ("location_id" in data):
            raise ValidationError("give exactly one of location or location_id", "location")


class BulkTagSchema(StrictSchema):
    item_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=1000))
    add = fields.List(tag_field(), load_default=list, validate=validate.Length(max=50))
    remove = fields.List(tag_field(), load_default=list, validate=validate.Length(max=50))


class BulkResultSchema(Schema):
    items = fields.List(fields.Nested(ItemSchema))


# ---- locations and tags ---------------------------------------------------------------------


class LocationSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    parent_id = fields.Integer(allow_none=True)
    path = fields.Method("_path", metadata={"type": "string"})
    item_count = fields.Method(
        "_item_count", metadata={"type": "integer", "description": "Items directly in it."}
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _path(self, location: Location) -> str:
        return location_tree().path(location.id)

    def _item_count(self, location: Location) -> int:
        if "location_item_counts" not in g:
            g.location_item_counts = locations.item_counts(session=db())
        count: int = g.location_item_counts.get(location.id, 0)
        return count


class LocationListSchema(Schema):
    locations = fields.List(fields.Nested(LocationSchema))


class LocationCreateSchema(StrictSchema):
    name = Text(required=True, min_length=1, max_length=200)
    description = Text(load_default="", max_length=2000)
    parent_id = Id(allow_none=True, load_default=None)


class LocationUpdateSchema(StrictSchema):
    name = Text(min_length=1, max_length=200)
    description = Text(max_length=2000)
    parent_id = Id(
        allow_none=True, metadata={"description": "Move under this location (null: top level)."}
    )


class LocationDeleteQuery(StrictSchema):
    move_contents_to_parent = fields.Boolean(load_default=False)


class TagSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    item_count = fields.Integer()


class TagListSchema(Schema):
    tags = fields.List(fields.Nested(TagSchema))


class TagWriteSchema(StrictSchema):
    name = tag_field(required=True)


# ---- search ---------------------------------------------------------------------------------


class SearchQuery(StrictSchema):
    q = Text(required=True, min_length=1, max_length=500)
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))
    location_id = Id(strict=False)
    tag = Text(max_length=64)
    archived = fields.String(
        load_default="false", validate=validate.OneOf(["false", "true", "all"])
    )


class SearchHitSchema(Schema):
    item = fields.Nested(ItemSchema)
    location_path = fields.String()
    score = fields.Float()
    reason = fields.String()


class SimilarQuery(StrictSchema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class SearchResultsSchema(Schema):
    results = fields.List(fields.Nested(SearchHitSchema))
    mode = fields.String(
        metadata={"description": "hybrid, or keyword when embeddings are unavailable"}
    )
    notices = fields.List(fields.String())


# ---- accounts -------------------------------------------------------------------------------


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.Enum(Role)
    active = fields.Boolean()
    created_at = fields.DateTime()


class UserListSchema(Schema):
    users = fields.List(fields.Nested(UserSchema))


class UserCreateSchema(StrictSchema):
    username = Text(required=True, min_length=1, max_length=64)
    password = Text(required=True, min_length=1, max_length=1024, strip=False, load_only=True)
    role = fields.Enum(Role, required=True)


class UserUpdateSchema(StrictSchema):
    role = fields.Enum(Role)
    active = fields.Boolean()
    password = Text(min_length=1, max_length=1024, strip=False, load_only=True)


class PasswordChangeSchema(StrictSchema):
    current_password = Text(required=True, max_length=1024, strip=False, load_only=True)
    new_password = Text(required=True, max_length=1024, strip=False, load_only=True)


class TokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class NewTokenSchema(Schema):
    """A just-created token (services.accounts.NewToken): the secret appears only here."""

    id = fields.Integer(attribute="token.id")
    name = fields.String(attribute="token.name")
    prefix = fields.String(attribute="token.prefix")
    created_at = fields.DateTime(attribute="token.created_at")
    token = fields.String(attribute="secret", metadata={"description": "Store it now."})


class TokenListSchema(Schema):
    tokens = fields.List(fields.Nested(TokenSchema))


class TokenCreateSchema(StrictSchema):
    name = Text(load_default="", max_length=100)


# ---- imports and jobs ----------------------------------------------------------------------


class ImportQuery(StrictSchema):
    dry_run = fields.Boolean(load_default=False)


class RowErrorSchema(Schema):
    line = fields.Integer(allow_none=True)
    field = fields.String(allow_none=True)
    message = fields.String()


class ChangeSchema(Schema):
    field = fields.String()
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)


class RowResultSchema(Schema):
    line = fields.Integer()
    action = fields.String(metadata={"enum": ["create", "update"]})
    asset_id = fields.String()
    name = fields.String()
    location = fields.String(allow_none=True)
    item_id = fields.Integer(allow_none=True)
    changes = fields.List(
        fields.Nested(ChangeSchema), metadata={"description": "Field by field, for updates"}
    )


class ImportReportSchema(Schema):
    """What an import changes (a preview) or changed; unchanged rows are only counted."""

    format = fields.String()
    dry_run = fields.Boolean()
    applied = fields.Boolean()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    rows = fields.List(fields.Nested(RowResultSchema))
    errors = fields.List(fields.Nested(RowErrorSchema))
    ignored_columns = fields.List(fields.String())
    new_locations = fields.List(fields.String())
    new_tags = fields.List(fields.String())
    notes = fields.List(fields.String())


class JobSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    status = fields.String(metadata={"enum": ["queued", "running", "done", "failed"]})
    progress = fields.Float(metadata={"minimum": 0, "maximum": 1})
    result = fields.Raw(allow_none=True, metadata={"description": "An import's report"})
    errors = fields.List(fields.Nested(RowErrorSchema))
    attempts = fields.Integer()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class ImportProblemSchema(ProblemSchema):
    report = fields.Nested(ImportReportSchema)
