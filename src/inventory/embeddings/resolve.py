"""Where models are found: a local path, then the model cache, then (only when allowed) the
Hugging Face hub. Nothing here imports a heavy library."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from inventory.settings import Settings

ONNX_DIR = "onnx"
ONNX_FILE = "model.onnx"
# Written by `inventory model export-onnx` beside the exported model.
ONNX_META = "inventory-onnx.json"
HUB_ORG = "sentence-transformers"


class EmbeddingUnavailable(RuntimeError):
    """The model cannot be loaded; the message says where we looked and what to do."""


def downloads_allowed() -> bool:
    """The hub is used only when neither offline switch is set."""
    return not any(
        os.environ.get(name, "") in {"1", "true", "yes"}
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def local_path(model: str) -> Path | None:
    """EMBEDDING_MODEL as a directory on disk, when it is one."""
    path = Path(model).expanduser()
    return path.resolve() if path.is_dir() else None


def model_key(settings: Settings) -> str:
    """The model's identity stored with every vector: the name, or the absolute path."""
    path = local_path(settings.embedding_model)
    return str(path) if path else hub_id(settings.embedding_model)


def hub_id(model: str) -> str:
    """Bare names mean the sentence-transformers organisation, as in that library."""
    return model if "/" in model else f"{HUB_ORG}/{model}"


def slug(model: str) -> str:
    """A directory name for the model inside the cache, stable for the same model."""
    path = local_path(model)
    if path is None:
        return hub_id(model).replace("/", "--")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    tail = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{path.parent.name}-{path.name}")
    return f"{tail}-{digest}"


def onnx_export_dir(settings: Settings, model: str | None = None) -> Path:
    return settings.model_cache / ONNX_DIR / slug(model or settings.embedding_model)


def onnx_candidates(settings: Settings) -> list[Path]:
    """Directories that may hold model.onnx + tokenizer.json, in the order they are tried."""
    candidates = []
    path = local_path(settings.embedding_model)
    if path is not None:
        candidates += [path, path / ONNX_DIR]
    exported = onnx_export_dir(settings)
    return [*candidates, exported, exported / ONNX_DIR]


def find_onnx(settings: Settings) -> Path:
    """The first candidate holding an ONNX model, downloading one only when allowed."""
    candidates = onnx_candidates(settings)
    for directory in candidates:
        if (directory / ONNX_FILE).is_file() and _tokenizer_file(directory) is not None:
            return directory
    if downloads_allowed() and local_path(settings.embedding_model) is None:
        return _download_onnx(settings)
    raise EmbeddingUnavailable(
        f"no ONNX model for EMBEDDING_MODEL={settings.embedding_model!r}: looked in "
        + ", ".join(str(c) for c in candidates)
        + f"; create it with `inventory model export-onnx {settings.embedding_model}` "
        "(needs `pip install 'inventory[torch]'`), or set EMBEDDING_MODEL to a directory "
        "holding model.onnx and tokenizer.json"
        + ("" if downloads_allowed() else " (downloads are off: HF_HUB_OFFLINE is set)")
    )


def tokenizer_file(directory: Path) -> Path:
    found = _tokenizer_file(directory)
    if found is None:
        raise EmbeddingUnavailable(f"no tokenizer.json in {directory} or its parent")
    return found


def _tokenizer_file(directory: Path) -> Path | None:
    # Hub repositories keep the ONNX file in onnx/ and the tokenizer one level up.
    for candidate in (directory / "tokenizer.json", directory.parent / "tokenizer.json"):
        if candidate.is_file():
            return candidate
    return None


def _download_onnx(settings: Settings) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise EmbeddingUnavailable(
            f"no ONNX model for {settings.embedding_model!r} in {onnx_export_dir(settings)} "
            "and huggingface_hub is not installed to download one"
        ) from None
    target = onnx_export_dir(settings)
    try:
        snapshot_download(
            hub_id(settings.embedding_model),
            local_dir=target,
            allow_patterns=["onnx/model.onnx", "tokenizer.json", "*.json", "1_Pooling/*"],
        )
    except Exception as exc:  # any network or hub failure means: not available
        raise EmbeddingUnavailable(
            f"could not download {hub_id(settings.embedding_model)}: {exc}"
        ) from None
    return target / ONNX_DIR
