"""ONNX Runtime backend: tokenizers + the exported transformer, mean pooling, L2 norm.
No torch at run time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inventory.embeddings.resolve import (
    ONNX_FILE,
    ONNX_META,
    EmbeddingUnavailable,
    find_onnx,
    model_key,
    tokenizer_file,
)
from inventory.settings import Settings

DEFAULT_MAX_TOKENS = 256
# Long batches are split so one call never holds more than this many texts in memory.
MAX_BATCH = 64


@dataclass
class OnnxEmbedder:
    session: Any
    tokenizer: Any
    model: str
    dimension: int
    input_names: tuple[str, ...]

    @classmethod
    def load(cls, settings: Settings, *, threads: int = 1) -> OnnxEmbedder:
        directory = find_onnx(settings)
        return cls.from_directory(directory, model=model_key(settings), threads=threads)

    @classmethod
    def from_directory(cls, directory: Path, *, model: str, threads: int = 1) -> OnnxEmbedder:
        """Load model.onnx and its tokenizer from `directory` (or the tokenizer's parent)."""
        import onnxruntime  # type: ignore[import-untyped]
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        # One thread per call by default: no ORT thread pool exists to break across fork().
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(
                str(directory / ONNX_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a corrupt or foreign file: say which one
            raise EmbeddingUnavailable(f"cannot load {directory / ONNX_FILE}: {exc}") from None
        tokenizer = Tokenizer.from_file(str(tokenizer_file(directory)))
        tokenizer.enable_truncation(max_length=_max_tokens(directory))
        padding = tokenizer.padding or {}
        # Pad each batch to its longest text only, whatever the saved tokenizer says.
        tokenizer.enable_padding(
            pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]")
        )
        dimension = int(session.get_outputs()[0].shape[-1])
        names = tuple(i.name for i in session.get_inputs())
        return cls(session, tokenizer, model, dimension, names)

    def embed(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Batches of similar length pad little: embed in length order, answer in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = [
            self._embed_batch([texts[i] for i in order[start : start + MAX_BATCH]])
            for start in range(0, len(texts), MAX_BATCH)
        ]
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        vectors[order] = np.concatenate(parts)
        return vectors

    def _embed_batch(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        outputs = self.session.run(None, {name: feeds[name] for name in self.input_names})
        return mean_pool_normalise(outputs[0], mask)


def mean_pool_normalise(hidden: Any, mask: Any) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Average the token vectors that are not padding, then scale each row to unit length."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    normalised: np.ndarray[Any, np.dtype[np.float32]] = (
        pooled / np.clip(norms, 1e-12, None)
    ).astype(np.float32)
    return normalised


def _max_tokens(directory: Path) -> int:
    """The model's own limit (sentence-transformers config), as its PyTorch form uses it."""
    for candidate in (
        directory / ONNX_META,
        directory / "sentence_bert_config.json",
        directory.parent / "sentence_bert_config.json",
    ):
        if candidate.is_file():
            value = json.loads(candidate.read_text()).get("max_seq_length")
            if isinstance(value, int):
                return value
    return DEFAULT_MAX_TOKENS
