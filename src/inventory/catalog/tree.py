"""The location tree, loaded once per request: paths without a query per item."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import CTE, select
from sqlalchemy.orm import Session

from inventory.db.models import Location

PATH_SEPARATOR = "/"
DISPLAY_SEPARATOR = " › "


@dataclass(frozen=True)
class LocationNode:
    id: int
    name: str
    parent_id: int | None


class LocationTree:
    """All locations loaded once; answers paths without further queries."""

    def __init__(self, nodes: Iterable[LocationNode]) -> None:
        self.nodes = {node.id: node for node in nodes}

    @classmethod
    def load(cls, session: Session) -> LocationTree:
        rows = session.execute(select(Location.id, Location.name, Location.parent_id))
        return cls(LocationNode(*row) for row in rows)

    def names(self, location_id: int | None) -> list[str]:
        names: list[str] = []
        seen: set[int] = set()
        while location_id is not None and location_id in self.nodes and location_id not in seen:
            seen.add(location_id)
            node = self.nodes[location_id]
            names.append(node.name)
            location_id = node.parent_id
        return names[::-1]

    def path(self, location_id: int | None) -> str:
        return DISPLAY_SEPARATOR.join(self.names(location_id))


def subtree_ids(*root_ids: int) -> CTE:
    """A recursive CTE of the roots and every location beneath them (column `id`)."""
    tree = select(Location.id).where(Location.id.in_(root_ids)).cte("subtree", recursive=True)
    return tree.union_all(select(Location.id).where(Location.parent_id == tree.c.id))
