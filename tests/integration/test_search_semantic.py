"""Semantic search end to end: real PostgreSQL + pgvector, the real model, the real API."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inventory.app import create_app
from inventory.db.models import EmbeddingIndex, ItemEmbedding
from inventory.db.session import Database
from inventory.embeddings import Embedder
from inventory.search import reindex, vectors
from inventory.settings import Settings
from tests.conftest import ApiClient

HOUSE = [
    ("DeWalt 20V cordless drill/driver", "Home/Garage/Workbench", ["tools"], "Two batteries"),
    ("Claw hammer", "Home/Garage/Workbench", ["tools"], "16 oz, fibreglass handle"),
    ("Down sleeping bag", "Home/Attic/Camping bin", ["camping"], "Rated to -5 °C"),
    ("Two-person tent", "Home/Attic/Camping bin", ["camping"], "Freestanding dome"),
    ("Christmas tree lights", "Home/Attic", ["holiday"], "LED string, 200 bulbs"),
    ("Espresso machine", "Home/Kitchen/Counter", [], "Pump machine with milk frother"),
    ("Cast iron skillet", "Home/Kitchen/Cupboard", [], "12 inch pan"),
    ("First aid kit", "Home/Bathroom", ["safety"], "Plasters, bandages, antiseptic"),
    ("Garden hose", "Home/Garage", ["garden"], "25 m reel"),
    ("Passport", "Home/Office/Desk drawer", ["documents"], ""),
]


def _stock(api: ApiClient) -> dict[str, dict[str, Any]]:
    items = {}
    for name, location, tags, description in HOUSE:
        body = {"name": name, "location": location, "tags": tags, "description": description}
        response = api.post("/api/v1/items", json=body)
        assert response.status_code == 201, response.json
        items[name] = response.json
    return items


def _search(api: ApiClient, q: str, **params: Any) -> dict[str, Any]:
    response = api.get("/api/v1/search", query_string={"q": q, **params})
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def _names(body: dict[str, Any]) -> list[str]:
    return [hit["item"]["name"] for hit in body["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("something to drive screws with a battery", "DeWalt 20V cordless drill/driver"),
        ("warm bag for camping", "Down sleeping bag"),
        ("make coffee", "Espresso machine"),
        ("pan for frying eggs", "Cast iron skillet"),
        ("bandage for a cut", "First aid kit"),
        ("travel document for going abroad", "Passport"),
    ],
)
def test_paraphrased_questions_find_the_thing_and_its_place(
    editor: ApiClient, query: str, expected: str
) -> None:
    _stock(editor)
    body = _search(editor, query)
    assert body["mode"] == "hybrid"
    assert expected in _names(body)[:3]
    hit = next(h for h in body["results"] if h["item"]["name"] == expected)
    assert hit["location_path"].startswith("Home › ")
    assert hit["reason"]


def test_keyword_hits_name_the_words_and_others_say_similar_meaning(editor: ApiClient) -> None:
    _stock(editor)
    words = _search(editor, "cordless drill")["results"][0]
    assert words["item"]["name"] == "DeWalt 20V cordless drill/driver"
    assert words["reason"] == "matched: cordless, drill"
    meaning = _search(editor, "make coffee")["results"][0]
    assert meaning["item"]["name"] == "Espresso machine"
    assert meaning["reason"] == "similar meaning"
    assert 0 < meaning["score"] <= 1


def test_naming_a_place_returns_what_is_there(editor: ApiClient) -> None:
    _stock(editor)
    body = _search(editor, "what's in the attic")
    top = body["results"][:3]
    assert top
    assert all(hit["location_path"].startswith("Home › Attic") for hit in top)


def test_filters_apply_before_ranking(editor: ApiClient) -> None:
    items = _stock(editor)
    attic = items["Down sleeping bag"]["location_id"]
    locations = editor.get("/api/v1/locations").json["locations"]
    attic_id = next(loc["id"] for loc in locations if loc["name"] == "Attic")
    assert attic != attic_id  # the bag is in a box beneath the attic: subtree filter
    body = _search(editor, "something warm to sleep in", location_id=attic_id)
    assert _names(body)[0] == "Down sleeping bag"
    assert all(h["location_path"].startswith("Home › Attic") for h in body["results"])
    garage_id = next(loc["id"] for loc in locations if loc["name"] == "Garage")
    elsewhere = _search(editor, "warm bag for camping", location_id=garage_id)
    assert all(h["location_path"].startswith("Home › Garage") for h in elsewhere["results"])
    tagged = _search(editor, "something warm for sleeping outdoors", tag="tools")
    assert all("tools" in h["item"]["tags"] for h in tagged["results"])
    bag = items["Down sleeping bag"]
    editor.patch(f"/api/v1/items/{bag['id']}", json={"archived": True})
    assert "Down sleeping bag" not in _names(_search(editor, "warm bag for camping"))
    archived = _search(editor, "warm bag for camping", archived="true")
    assert _names(archived) == ["Down sleeping bag"]


def test_renaming_a_location_re_embeds_the_items_beneath_it(
    app: Flask, editor: ApiClient, session: Session
) -> None:
    items = _stock(editor)
    before = dict(session.execute(select(ItemEmbedding.item_id, ItemEmbedding.text_hash)).all())
    locations = editor.get("/api/v1/locations").json["locations"]
    attic = next(loc for loc in locations if loc["name"] == "Attic")
    renamed = editor.patch(f"/api/v1/locations/{attic['id']}", json={"name": "Loft storage"})
    assert renamed.status_code == 200
    assert app.extensions["inventory.embedding_queue"].wait_idle(timeout=60)
    session.expire_all()
    after = dict(session.execute(select(ItemEmbedding.item_id, ItemEmbedding.text_hash)).all())
    under = {items[n]["id"] for n, loc, *_ in HOUSE if loc.startswith("Home/Attic")}
    others = set(after) - under
    assert all(after[i] != before[i] for i in under)
    assert all(after[i] == before[i] for i in others)
    assert not session.scalar(select(ItemEmbedding).where(ItemEmbedding.stale.is_(True)))
    top = _search(editor, "what is up in the loft")["results"][:3]
    assert all(h["location_path"].startswith("Home › Loft storage") for h in top)


def test_search_answers_by_keyword_when_the_model_cannot_load(
    settings: Settings, database: Database, app: Flask, make_api: Any, tmp_path: Any
) -> None:
    broken = create_app(
        Settings(
            data_dir=settings.data_dir,
            secret_key=settings.secret_key,
            embedding_model=str(tmp_path / "no-such-model"),
        ),
        database,
    )
    assert broken.extensions["inventory.embedder"] is None
    assert "export-onnx" in broken.extensions["inventory.embedder_error"]
    api = make_api("editor")
    _stock(api)
    client = broken.test_client()
    headers = {"Authorization": f"Bearer {api.token}"}
    body = client.get("/api/v1/search?q=drill", headers=headers).json
    assert body["mode"] == "keyword"
    assert body["notices"]
    assert [h["item"]["name"] for h in body["results"]] == ["DeWalt 20V cordless drill/driver"]
    created = client.post("/api/v1/items", json={"name": "Drill bits"}, headers=headers)
    assert created.status_code == 201
    assert created.json["possible_duplicates"] == []
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json["embeddings"] == "unavailable"
    assert app.test_client().get("/health").json["embeddings"] == "ok"


def test_similar_items_and_possible_duplicates(editor: ApiClient) -> None:
    items = _stock(editor)
    drill = items["DeWalt 20V cordless drill/driver"]
    similar = editor.get(f"/api/v1/items/{drill['id']}/similar?limit=3").json["results"]
    assert similar[0]["item"]["name"] == "Claw hammer"
    assert drill["id"] not in [h["item"]["id"] for h in similar]
    again = editor.post(
        "/api/v1/items",
        json={
            "name": "DeWalt cordless 20V drill driver",
            "location": "Home/Garage/Workbench",
            "tags": ["tools"],
        },
    )
    assert again.status_code == 201
    assert [d["id"] for d in again.json["possible_duplicates"]] == [drill["id"]]
    assert again.json["possible_duplicates"][0]["location_path"] == "Home › Garage › Workbench"
    other = editor.post("/api/v1/items", json={"name": "Box of Christmas baubles"})
    assert other.json["possible_duplicates"] == []


def test_reindex_rebuilds_after_a_model_change(
    session: Session, embedder: Embedder, editor: ApiClient
) -> None:
    _stock(editor)
    vectors.record_model(session=session, embedder=embedder)
    # As if the vectors had been made by another model.
    session.execute(update(ItemEmbedding).values(model="old/model"))
    session.execute(update(EmbeddingIndex).values(model="old/model"))
    session.commit()
    stale = _search(editor, "warm bag for camping")
    assert stale["notices"]
    assert "reindex" in stale["notices"][0]
    due = reindex.plan(session=session, embedder=embedder)
    assert len(due) == len(HOUSE)
    done = reindex.run(session=session, embedder=embedder, item_ids=due, batch_size=4)
    assert done == len(HOUSE)
    assert reindex.plan(session=session, embedder=embedder) == []
    models = set(session.scalars(select(ItemEmbedding.model)))
    assert models == {embedder.model}
    fresh = _search(editor, "warm bag for camping")
    assert fresh["notices"] == []
    assert _names(fresh)[0] == "Down sleeping bag"


def test_stored_vectors_are_the_models_vectors(
    session: Session, embedder: Embedder, editor: ApiClient
) -> None:
    items = _stock(editor)
    row = session.get(ItemEmbedding, items["Claw hammer"]["id"])
    assert row is not None
    assert row.model == embedder.model
    expected = embedder.embed(
        ["Claw hammer. 16 oz, fibreglass handle. Tags: tools. Location: Home / Garage / Workbench"]
    )[0]
    assert float(np.dot(np.asarray(row.embedding), expected)) > 0.999
