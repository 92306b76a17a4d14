"""The re-cluster over HTTP: start a run (202), one at a time (409), list runs, old cluster ids resolve."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from dedup.recluster.run_log import run_lock
from dedup.settings import Settings
from tests.api_backends import OTHER, STORY

KEY = {"X-API-Key": "s3cret"}


@pytest.fixture
def client(tmp_path):
    app = create_app(Settings(database_url=str(tmp_path / "r.db"), redis_url=None, api_key="s3cret"))
    with TestClient(app) as c:
        yield c


def _wait_for(client: TestClient, run_id: int) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = client.get("/v1/recluster/runs").json()["runs"]
        run = next(r for r in runs if r["id"] == run_id)
        if run["status"] != "running":
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish")


def test_start_a_run_and_see_it_recorded(client):
    for i, text in enumerate((STORY, STORY + "（来源：人民网）", OTHER)):
        assert client.post("/v1/articles", json={"url": f"https://r.example/{i}", "text": text},
                           headers=KEY).status_code == 201
    assert client.post("/v1/admin/recluster", json={}).status_code == 401
    started = client.post("/v1/admin/recluster", json={}, headers=KEY)
    assert started.status_code == 202, started.text
    run = _wait_for(client, started.json()["run_id"])
    assert run["status"] == "succeeded"
    assert run["report"]["articles"] == 3


def test_a_second_run_while_one_holds_the_lock_gets_409(client):
    engine = client.app.state.engine
    with run_lock(engine.store):
        busy = client.post("/v1/admin/recluster", json={"dry_run": True}, headers=KEY)
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "run_in_progress"


def test_an_old_cluster_id_resolves_to_the_surviving_cluster(client):
    first = client.post("/v1/articles", json={"url": "https://r.example/a", "text": STORY}, headers=KEY).json()
    second = client.post("/v1/articles", json={"url": "https://r.example/b", "text": OTHER}, headers=KEY).json()
    engine = client.app.state.engine
    with engine.store.transaction():
        engine.store.set_cluster([second["id"]], first["cluster_id"])
        engine.store.delete_cluster(second["cluster_id"])
        engine.store.add_alias(second["cluster_id"], first["cluster_id"])
    body = client.get(f"/v1/clusters/{second['cluster_id']}").json()
    assert body["id"] == first["cluster_id"] and body["resolved_from"] == second["cluster_id"]
    assert client.get("/v1/clusters/999999").status_code == 404
