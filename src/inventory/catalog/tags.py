"""Tags: case-insensitive and unique ("Camping" and "camping" are one tag)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from inventory import search
from inventory.catalog import history
from inventory.db.models import Item, Tag, User, item_tags
from inventory.errors import Conflict, InvalidInput, NotFound


def resolve(session: Session, names: Iterable[str]) -> list[Tag]:
    """The tags with these names, created when missing; duplicates collapse."""
    wanted: dict[str, str] = {}
    for name in names:
        wanted.setdefault(name.lower(), name)
    if not wanted:
        return []
    known = _by_key(session, wanted)
    missing = [name for key, name in wanted.items() if key not in known]
    if missing:
        # Two requests may add the same new tag at once: the loser simply finds it.
        session.execute(
            insert(Tag).values([{"name": name} for name in missing]).on_conflict_do_nothing()
        )
        known = _by_key(session, wanted)
    return [known[key] for key in wanted]


def _by_key(session: Session, wanted: Iterable[str]) -> dict[str, Tag]:
    query = select(Tag).where(func.lower(Tag.name).in_(list(wanted)))
    return {tag.name.lower(): tag for tag in session.scalars(query)}


def list_tags(*, session: Session) -> list[tuple[Tag, int]]:
    """Every tag with the number of items carrying it."""
    count = func.count(item_tags.c.item_id)
    rows = session.execute(
        select(Tag, count)
        .outerjoin(item_tags, item_tags.c.tag_id == Tag.id)
        .group_by(Tag.id)
        .order_by(func.lower(Tag.name))
    )
    return [(tag, n) for tag, n in rows]


def get_tag(*, session: Session, tag_id: int) -> Tag:
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise NotFound(f"tag {tag_id} does not exist")
    return tag


def create_tag(*, session: Session, name: str) -> Tag:
    if session.scalar(select(Tag).where(func.lower(Tag.name) == name.lower())):
        raise Conflict(f"tag {name!r} already exists", errors={"name": ["taken"]})
    tag = Tag(name=name)
    session.add(tag)
    session.commit()
    return tag


def rename_tag(*, session: Session, tag_id: int, name: str) -> Tag:
    tag = get_tag(session=session, tag_id=tag_id)
    twin = session.scalar(select(Tag).where(func.lower(Tag.name) == name.lower()))
    if twin is not None and twin.id != tag.id:
        raise Conflict(f"tag {twin.name!r} already exists", errors={"name": ["taken"]})
    if not name:
        raise InvalidInput.field("name", "must not be empty")
    tag.name = name
    session.flush()
    search.refresh_items(session, item_ids=_tagged(session, tag.id))
    session.commit()
    return tag


def count_items(*, session: Session, tag_id: int) -> int:
    return len(_tagged(session, tag_id))


def delete_tag(*, session: Session, tag_id: int, actor: User | None) -> None:
    """Delete a tag; the items that carried it record the change in their history."""
    tag = get_tag(session=session, tag_id=tag_id)
    item_ids = _tagged(session, tag.id)
    for item in session.scalars(select(Item).where(Item.id.in_(item_ids))):
        old = sorted(t.name for t in item.tags)
        history.record(
            session,
            item_id=item.id,
            actor=actor,
            field="tags",
            old=old,
            new=[name for name in old if name != tag.name],
        )
    session.delete(tag)
    session.flush()
    search.refresh_items(session, item_ids=item_ids)
    session.commit()


def _tagged(session: Session, tag_id: int) -> list[int]:
    return list(session.scalars(select(item_tags.c.item_id).where(item_tags.c.tag_id == tag_id)))
