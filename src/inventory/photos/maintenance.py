"""Photo files at rest: move every photo between the two stores, and collect files no photo
refers to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from inventory.db.models import Photo
from inventory.photos.store import (
    FilesystemStore,
    ImageStore,
    key_of,
    photo_names,
)


@dataclass
class MigrationReport:
    copied: int = 0
    already_there: int = 0
    missing: list[str] | None = None
    removed_from_source: int = 0


def referenced_names(session: Session) -> list[str]:
    """Every file name some photo needs, once each, in a stable order."""
    rows = session.execute(select(Photo.key, Photo.format).distinct().order_by(Photo.key))
    return [name for key, ext in rows for name in photo_names(key, ext)]


def migrate_images(
    *,
    session: Session,
    source: ImageStore,
    target: ImageStore,
    keep_source: bool = False,
    progress: Callable[[int], object] = lambda _: None,
) -> MigrationReport:
    """Copy every photo file from `source` to `target`, then (unless `keep_source`) remove it
    from `source`. Safe to run again after an interruption: what is already there is kept."""
    report = MigrationReport(missing=[])
    names = referenced_names(session)
    for name in names:
        _copy_one(source, target, name, report)
        session.commit()  # the database side of the copy is durable before the next step
        progress(1)
    if not keep_source and not report.missing:
        for name in names:
            if source.exists(name):
                source.delete(name)
                report.removed_from_source += 1
        session.commit()
    return report


def _copy_one(source: ImageStore, target: ImageStore, name: str, report: MigrationReport) -> None:
    if target.exists(name):
        report.already_there += 1
        return
    data = source.get(name)
    if data is None:
        assert report.missing is not None
        report.missing.append(name)
        return
    target.put(name, data)
    report.copied += 1


def collect_garbage(*, session: Session, store: ImageStore, dry_run: bool = False) -> list[str]:
    """Remove stored images that no photo refers to (and stale temporary files); returns
    their names. The filesystem store only considers files old enough to be settled."""
    used = {key for (key,) in session.execute(select(Photo.key).distinct())}
    orphans = [name for name in store.names() if key_of(name) not in used]
    if dry_run:
        return orphans
    for name in orphans:
        store.delete(name)
    if isinstance(store, FilesystemStore):
        for temp in store.stale_temporaries():
            temp.unlink(missing_ok=True)
    session.commit()
    return orphans
