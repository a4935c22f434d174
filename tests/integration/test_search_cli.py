"""`inventory search reindex` and `inventory model export-onnx`, run as a user would."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inventory.catalog import items
from inventory.cli import main
from inventory.db.models import ItemEmbedding
from inventory.embeddings import Embedder
from inventory.settings import Settings
from tests.embedding_model import model_path


def _env(settings: Settings, cache: Path) -> dict[str, str]:
    return {
        "INVENTORY_DATA_DIR": str(settings.data_dir),
        "SECRET_KEY": settings.secret_key,
        "TRANSFORMERS_CACHE": str(cache),
        "EMBEDDING_MODEL": model_path(),
        "HF_HUB_OFFLINE": "1",
    }


def test_reindex_embeds_what_is_missing_and_resumes(
    session: Session, settings: Settings, embedder: Embedder, request: pytest.FixtureRequest
) -> None:
    for name in ("Tent pegs", "Rain fly", "Camp chair"):
        items.create_item(
            session=session, data={"name": name, "location": "Shed"}, actor=None, embedder=embedder
        )
    session.execute(update(ItemEmbedding).values(stale=True))
    session.commit()
    env = _env(settings, request.config.cache.mkdir("inventory-models"))
    result = CliRunner().invoke(main, ["search", "reindex"], env=env)
    assert result.exit_code == 0, result.output
    assert "embedded 3 item(s)" in result.output
    session.expire_all()
    rows = session.scalars(select(ItemEmbedding)).all()
    assert len(rows) == 3
    assert not any(row.stale for row in rows)
    again = CliRunner().invoke(main, ["search", "reindex"], env=env)
    assert "embedded 0 item(s)" in again.output


def test_export_onnx_refuses_a_missing_model_clearly(settings: Settings, tmp_path: Path) -> None:
    env = _env(settings, tmp_path) | {"EMBEDDING_MODEL": ""}
    result = CliRunner().invoke(main, ["model", "export-onnx", "no-such/model"], env=env)
    assert result.exit_code != 0
    assert "no-such/model" in result.output
