"""Photos of items: upload (validated and processed), reorder, choose the primary, delete.

An upload is all or nothing: every file is checked and processed before anything is written,
and a failure after that rolls the rows back and removes the files this upload created.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inventory.catalog import history
from inventory.catalog.item_queries import get_item
from inventory.db.models import Photo, User
from inventory.errors import Conflict, DomainError, InvalidInput, NotFound, PayloadTooLarge
from inventory.photos.processing import ProcessedPhoto, process_photo
from inventory.photos.store import (
    DatabaseStore,
    FilesystemStore,
    ImageStore,
    check_name,
    key_of,
    photo_names,
)

MAX_FILES_PER_UPLOAD = 10
_READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """One uploaded file as the web layer received it; nothing about it is trusted."""

    filename: str
    stream: IO[bytes]


@dataclass(frozen=True)
class StoredImage:
    name: str
    key: str
    format: str


def add_photos(
    *,
    session: Session,
    item_id: int,
    uploads: Sequence[Upload],
    actor: User | None,
    store: ImageStore,
    max_bytes: int,
) -> list[Photo]:
    """Attach the uploads to the item, in order, after the existing photos. The first photo
    of an item becomes its primary. All or none: any bad file refuses the whole request."""
    item = get_item(session=session, item_id=item_id)
    if not uploads:
        raise InvalidInput.field("photos", "send at least one file")
    if len(uploads) > MAX_FILES_PER_UPLOAD:
        raise InvalidInput.field("photos", f"at most {MAX_FILES_PER_UPLOAD} files at once")
    processed = [_process(upload, max_bytes) for upload in uploads]
    _refuse_duplicates(session, item_id, processed)
    before = len(item.photos)
    created: list[str] = []
    try:
        photos = _save(session, store, item_id, uploads, processed, created)
        session.flush()
        history.record(
            session,
            item_id=item_id,
            actor=actor,
            field="photos",
            old=before,
            new=before + len(photos),
        )
        session.commit()
    except BaseException:
        session.rollback()
        _discard_unreferenced(session, store, created)
        raise
    session.refresh(item)
    return photos


def _process(upload: Upload, max_bytes: int) -> ProcessedPhoto:
    data = _read_limited(upload, max_bytes)
    return process_photo(data)


def _read_limited(upload: Upload, max_bytes: int) -> bytes:
    """The whole file, refusing it as soon as it passes `max_bytes` (never reads more)."""
    chunks: list[bytes] = []
    total = 0
    while chunk := upload.stream.read(min(_READ_CHUNK, max_bytes + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise PayloadTooLarge(
                f"photos: {clean_filename(upload.filename) or 'a file'} is larger than "
                f"{max_bytes // (1024 * 1024)} MB",
                errors={"photos": [f"larger than {max_bytes // (1024 * 1024)} MB"]},
            )
    if total == 0:
        raise InvalidInput.field("photos", "the file is empty")
    return b"".join(chunks)


def _refuse_duplicates(session: Session, item_id: int, processed: list[ProcessedPhoto]) -> None:
    keys = [photo.key for photo in processed]
    if len(set(keys)) != len(keys):
        raise Conflict("the same photo was sent twice", errors={"photos": ["sent twice"]})
    taken = session.scalar(
        select(func.count()).where(Photo.item_id == item_id, Photo.key.in_(keys))
    )
    if taken:
        raise Conflict("the item already has this photo", errors={"photos": ["already attached"]})


def _save(
    session: Session,
    store: ImageStore,
    item_id: int,
    uploads: Sequence[Upload],
    processed: list[ProcessedPhoto],
    created: list[str],
) -> list[Photo]:
    position = _next_position(session, item_id)
    has_primary = _primary(session, item_id) is not None
    photos = []
    for offset, (upload, result) in enumerate(zip(uploads, processed, strict=True)):
        for name, data in zip(
            photo_names(result.key, result.format), (result.display, result.thumbnail), strict=True
        ):
            if store.put(name, data):
                created.append(name)
        photo = Photo(
            item_id=item_id,
            key=result.key,
            format=result.format,
            width=result.width,
            height=result.height,
            position=position + offset,
            is_primary=not has_primary and offset == 0,
            original_filename=clean_filename(upload.filename),
        )
        session.add(photo)
        photos.append(photo)
    return photos


def _discard_unreferenced(session: Session, store: ImageStore, names: list[str]) -> None:
    """After a rollback: remove what this upload wrote, unless a committed photo uses it."""
    if isinstance(store, DatabaseStore) or not names:
        return  # the rollback already took the blobs
    keys = {key_of(name) for name in names}
    used = set(session.scalars(select(Photo.key).where(Photo.key.in_(keys))))
    for name in names:
        if key_of(name) not in used:
            store.delete(name)


def clean_filename(name: str | None) -> str:
    """The base name only, printable, at most 255 characters (it is only ever shown)."""
    base = os.path.basename((name or "").replace("\\", "/"))
    printable = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    return printable.strip()[:255]


def _next_position(session: Session, item_id: int) -> int:
    last = session.scalar(select(func.max(Photo.position)).where(Photo.item_id == item_id))
    return 0 if last is None else last + 1


def _primary(session: Session, item_id: int) -> Photo | None:
    return session.scalar(select(Photo).where(Photo.item_id == item_id, Photo.is_primary))


def list_photos(*, session: Session, item_id: int) -> list[Photo]:
    """The item's photos in display order."""
    return list(get_item(session=session, item_id=item_id).photos)


def get_photo(*, session: Session, item_id: int, photo_id: int) -> Photo:
    photo = session.get(Photo, photo_id)
    if photo is None or photo.item_id != item_id:
        raise NotFound(f"item {item_id} has no photo {photo_id}")
    return photo


def reorder_photos(*, session: Session, item_id: int, photo_ids: Sequence[int]) -> list[Photo]:
    """Put the photos in the given order; `photo_ids` must name each of the item's photos once."""
    photos = {photo.id: photo for photo in list_photos(session=session, item_id=item_id)}
    if sorted(photo_ids) != sorted(photos):
        raise InvalidInput.field(
            "photo_ids", f"must list each of the item's photos once: {sorted(photos)}"
        )
    for position, photo_id in enumerate(photo_ids):
        photos[photo_id].position = position
    session.commit()
    return list_photos(session=session, item_id=item_id)


def set_primary(*, session: Session, item_id: int, photo_id: int) -> Photo:
    """Make this photo the item's primary one (the one shown in lists)."""
    chosen = get_photo(session=session, item_id=item_id, photo_id=photo_id)
    current = _primary(session, item_id)
    if current is not None and current.id != chosen.id:
        current.is_primary = False
    chosen.is_primary = True
    session.commit()
    return chosen


def delete_photo(
    *, session: Session, item_id: int, photo_id: int, actor: User | None, store: ImageStore
) -> None:
    """Remove the photo; its files go too unless another item uses the same picture.
    When it was the primary, the next photo in order becomes primary."""
    photo = get_photo(session=session, item_id=item_id, photo_id=photo_id)
    item = get_item(session=session, item_id=item_id)
    before = len(item.photos)
    names = photo_names(photo.key, photo.format)
    shared = session.scalar(
        select(func.count()).where(Photo.key == photo.key, Photo.id != photo.id)
    )
    was_primary = photo.is_primary
    item.photos.remove(photo)
    session.flush()
    if was_primary and item.photos:
        item.photos[0].is_primary = True
    history.record(
        session, item_id=item_id, actor=actor, field="photos", old=before, new=before - 1
    )
    if not shared and isinstance(store, DatabaseStore):
        _delete_names(store, names)  # same transaction as the row
    session.commit()
    if not shared and isinstance(store, FilesystemStore):
        _delete_names(store, names)  # only once the row is gone for good


def _delete_names(store: ImageStore, names: Sequence[str]) -> None:
    for name in names:
        store.delete(name)


def find_image(*, session: Session, name: str) -> StoredImage:
    """The stored image behind an /images/ name, if a photo refers to it (else NotFound)."""
    key = key_of(check_name(name))
    ext = name.rsplit(".", 1)[1]
    query = select(Photo.id).where(Photo.key == key, Photo.format == ext).limit(1)
    if session.scalar(query) is None:
        raise NotFound("no such image")
    return StoredImage(name=name, key=key, format=ext)


def import_photos(
    *,
    session: Session,
    store: ImageStore,
    item_id: int,
    files: Sequence[tuple[str, bytes]],
    max_bytes: int,
) -> tuple[list[str], list[str]]:
    """Attach photos to a newly imported item inside the caller's transaction (no commit):
    (names written to the store, for `discard_unreferenced` if the transaction fails; notes
    on files that were skipped because they are not usable photos)."""
    created: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    for filename, data in files:
        shown = clean_filename(filename) or "a photo"
        if not data or len(data) > max_bytes:
            notes.append(f"{shown}: skipped (empty or larger than {max_bytes // 2**20} MB)")
            continue
        try:
            result = process_photo(data)
        except DomainError as exc:
            notes.append(f"{shown}: skipped ({exc.detail})")
            continue
        if result.key in seen:
            continue
        for name, blob in zip(
            photo_names(result.key, result.format), (result.display, result.thumbnail), strict=True
        ):
            if store.put(name, blob):
                created.append(name)
        session.add(
            Photo(
                item_id=item_id,
                key=result.key,
                format=result.format,
                width=result.width,
                height=result.height,
                position=len(seen),
                is_primary=not seen,
                original_filename=shown,
            )
        )
        seen.add(result.key)
    return created, notes


def discard_unreferenced(*, session: Session, store: ImageStore, names: list[str]) -> None:
    """After a rollback: remove the files written for it that no committed photo uses."""
    _discard_unreferenced(session, store, names)
