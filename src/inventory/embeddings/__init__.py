"""Sentence embeddings behind one interface.

`get_embedder(settings)` returns an `Embedder` for EMBEDDING_BACKEND and EMBEDDING_MODEL, or
raises `EmbeddingUnavailable` with one message saying where it looked and how to fix it.
Each backend imports its heavy library only when chosen.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from inventory.embeddings.resolve import EmbeddingUnavailable, model_key
from inventory.settings import Settings

__all__ = ["Embedder", "EmbeddingUnavailable", "Vectors", "get_embedder", "model_key"]

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    @property
    def model(self) -> str:
        """The model's identity as recorded with the vectors (changing it needs a reindex)."""

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: list[str]) -> Vectors:
        """Shape (len(texts), dimension); rows have unit length."""


def get_embedder(settings: Settings, *, threads: int = 1) -> Embedder:
    """The configured backend with its model loaded; `threads` caps CPU threads per call."""
    if settings.embedding_backend == "sentence-transformers":
        from inventory.embeddings.sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder.load(settings, threads=threads)
    from inventory.embeddings.onnx import OnnxEmbedder

    return OnnxEmbedder.load(settings, threads=threads)
