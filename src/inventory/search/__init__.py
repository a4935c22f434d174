"""Search by meaning and by words, answered with each item's place.

- `ranking`: `search()` fuses the keyword, meaning and place rankings in one SQL statement.
- `similar`: items close in meaning to one item, and likely duplicates of a new one.
- `refresh`: keeps each item's search document and vector current as the catalog changes.
- `vectors`, `queue`, `reindex`, `hnsw`: embedding items, the per-process background queue,
  bulk (re)embedding, and the HNSW index over the vectors.
"""

from inventory.search.queue import EmbeddingQueue
from inventory.search.ranking import SearchHit, SearchResults, search
from inventory.search.refresh import refresh_items
from inventory.search.similar import EmbeddingsUnavailable, possible_duplicates, similar_items

__all__ = [
    "EmbeddingQueue",
    "EmbeddingsUnavailable",
    "SearchHit",
    "SearchResults",
    "possible_duplicates",
    "refresh_items",
    "search",
    "similar_items",
]
