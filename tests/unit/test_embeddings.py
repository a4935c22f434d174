"""The embedding backends: same vectors for the same model, clear errors when it is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inventory.embeddings import Embedder, EmbeddingUnavailable, get_embedder
from inventory.settings import Settings
from tests.embedding_model import model_settings

SAMPLE = [
    "DeWalt 20V cordless drill/driver. Tags: tools. Location: Home / Garage / Workbench",
    "something to drive screws with a battery",
    "warm bag for camping",
    "Down sleeping bag. Comfort rating -5 °C. Location: Home / Attic / Camping bin",
    "a much longer description of an old wooden chest of drawers " * 30,  # past the token limit
    "",
]


def test_onnx_gives_unit_vectors_of_the_models_size(embedder: Embedder) -> None:
    vectors = embedder.embed(SAMPLE)
    assert vectors.shape == (len(SAMPLE), 384) == (len(SAMPLE), embedder.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # One text alone or in a padded batch: the same vector.
    alone = embedder.embed([SAMPLE[2]])[0]
    assert float(alone @ vectors[2]) > 0.9999


def test_both_backends_give_the_same_vectors(
    embedder: Embedder, settings: Settings, request: pytest.FixtureRequest
) -> None:
    cache = request.config.cache.mkdir("inventory-models")
    torch_backend = get_embedder(model_settings(settings, cache, "sentence-transformers"))
    assert torch_backend.model == embedder.model
    cosine = np.sum(embedder.embed(SAMPLE) * torch_backend.embed(SAMPLE), axis=1)
    assert cosine.min() >= 0.999


@pytest.mark.parametrize("backend", ["onnx", "sentence-transformers"])
def test_a_missing_model_says_where_it_looked_and_what_to_do(tmp_path: Path, backend: str) -> None:
    settings = Settings(
        data_dir=tmp_path,
        embedding_model="no-such/model",
        embedding_backend=backend,  # type: ignore[arg-type]
    )
    with pytest.raises(EmbeddingUnavailable) as raised:
        get_embedder(settings)
    message = str(raised.value)
    assert "no-such/model" in message
    assert str(tmp_path / "models") in message
    assert "HF_HUB_OFFLINE" in message
