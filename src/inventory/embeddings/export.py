"""`inventory model export-onnx`: a sentence-transformers model to ONNX for the default
backend. Needs the `torch` extra; the result runs with onnxruntime alone."""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from inventory.embeddings.resolve import ONNX_FILE, ONNX_META, EmbeddingUnavailable, onnx_export_dir
from inventory.files import atomic_file
from inventory.settings import Settings

OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(settings: Settings, model: str) -> Path:
    """Write model.onnx, tokenizer.json and the pooling settings into the model cache.

    Returns the directory; the ONNX backend finds it there for EMBEDDING_MODEL=`model`.
    Only mean-pooling models are accepted, since that is what the ONNX backend computes.
    """
    try:
        import torch

        from inventory.embeddings.sentence_transformers import embedding_dimension, load_transformer
    except ImportError:
        raise EmbeddingUnavailable(
            "exporting needs PyTorch and sentence-transformers: pip install 'inventory[torch]'"
        ) from None
    transformer = load_transformer(replace(settings, embedding_model=model))
    _check_mean_pooling(transformer)
    target = onnx_export_dir(settings, model)
    target.mkdir(parents=True, exist_ok=True)
    transformer.tokenizer.save_pretrained(str(target / "tokenizer"))
    shutil.copy(target / "tokenizer" / "tokenizer.json", target / "tokenizer.json")
    meta = {
        "source": model,
        "max_seq_length": transformer.max_seq_length,
        "dimension": embedding_dimension(transformer),
    }
    (target / ONNX_META).write_text(json.dumps(meta, indent=2))
    # model.onnx appears last and whole: a half-finished export is never taken for a model.
    with atomic_file(target / ONNX_FILE) as handle:
        _trace(torch, transformer[0].auto_model, handle)
    return target


def _check_mean_pooling(transformer: Any) -> None:
    pooling = [m for m in transformer if type(m).__name__ == "Pooling"]
    if not pooling or pooling[0].pooling_mode != "mean":
        raise EmbeddingUnavailable("only models with mean pooling can be exported to ONNX here")


class _LastHiddenState:
    """The transformer with plain tensor inputs and one output, as ONNX wants it."""

    @staticmethod
    def wrap(torch: Any, model: Any) -> Any:
        class Wrapped(torch.nn.Module):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.model(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state

        return Wrapped().eval()


def _trace(torch: Any, model: Any, output: BinaryIO) -> None:
    # A padded example batch, so the traced graph keeps the attention-mask path.
    ids = torch.tensor([[101, 2023, 2003, 102], [101, 2023, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns about itself and about tracing; both are expected.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _LastHiddenState.wrap(torch, model),
            (ids, mask, torch.zeros_like(ids)),
            output,
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
