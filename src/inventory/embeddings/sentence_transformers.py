"""PyTorch (CPU) backend through sentence-transformers, for installs whose model cache
(TRANSFORMERS_CACHE / HF_HOME) already holds Hugging Face models. Needs the `torch` extra."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inventory.embeddings.resolve import (
    EmbeddingUnavailable,
    downloads_allowed,
    hub_id,
    local_path,
    model_key,
)
from inventory.settings import Settings


@dataclass
class SentenceTransformerEmbedder:
    transformer: Any
    model: str
    dimension: int

    @classmethod
    def load(cls, settings: Settings, *, threads: int = 1) -> SentenceTransformerEmbedder:
        try:
            import torch
        except ImportError:
            raise EmbeddingUnavailable(
                "EMBEDDING_BACKEND=sentence-transformers needs PyTorch: "
                "pip install 'inventory[torch]' (or use EMBEDDING_BACKEND=onnx)"
            ) from None
        torch.set_num_threads(threads)
        transformer = load_transformer(settings)
        dimension = embedding_dimension(transformer)
        return cls(transformer, model_key(settings), dimension)

    def embed(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.transformer.encode(
            texts,
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def load_transformer(settings: Settings) -> Any:
    """A SentenceTransformer on CPU: the local path, else the cache, else the hub if allowed."""
    from sentence_transformers import SentenceTransformer

    path = local_path(settings.embedding_model)
    if path is not None:
        return SentenceTransformer(str(path), device="cpu")
    looked = []
    for cache in _caches(settings):
        looked.append(str(cache))
        try:
            return SentenceTransformer(
                hub_id(settings.embedding_model),
                device="cpu",
                cache_folder=str(cache),
                local_files_only=True,
            )
        except (OSError, ValueError):
            continue
    if downloads_allowed():
        return SentenceTransformer(
            hub_id(settings.embedding_model), device="cpu", cache_folder=str(settings.model_cache)
        )
    raise EmbeddingUnavailable(
        f"model {settings.embedding_model!r} is not a directory and not in the model cache "
        f"(looked in {', '.join(looked)}); set EMBEDDING_MODEL to a model directory, or "
        "TRANSFORMERS_CACHE/HF_HOME to a cache holding it "
        "(downloads are off: HF_HUB_OFFLINE is set)"
    )


def _caches(settings: Settings) -> list[Path]:
    # HF_HOME keeps the hub cache in hub/; TRANSFORMERS_CACHE is the cache itself.
    cache = settings.model_cache
    return [cache, cache / "hub"]


def embedding_dimension(transformer: Any) -> int:
    """The vector length (the method was renamed in sentence-transformers 5)."""
    method = getattr(transformer, "get_embedding_dimension", None)
    method = method or transformer.get_sentence_embedding_dimension
    return int(method() or 0)
