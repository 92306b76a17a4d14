"""The OpenAPI schema's statements, one by one, each checked against what the server really does.

The generated-request run that holds every answer to the schema is tests/reliability/test_schema_conformance.py.
"""

from __future__ import annotations

import json

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from dedup.settings import Settings
from tests.api_backends import STORY

KEY = "schema-key"
ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    db = tmp_path_factory.mktemp("schema") / "s.db"
    with TestClient(create_app(Settings(database_url=str(db), redis_url=None, api_key=KEY)),
                    raise_server_exceptions=False) as c:
        r = c.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY}, headers={"X-API-Key": KEY})
        assert r.status_code == 201, r.text
        yield c


@pytest.fixture(scope="module")
def schema(client) -> dict:
    return client.get("/openapi.json").json()


def _operations(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def test_every_operation_documents_its_error_answers_in_the_error_shape(schema):
    assert "HTTPValidationError" not in json.dumps(schema)  # FastAPI's {"detail": [...]}, which we never send
    for method, path, op in _operations(schema):
        codes = set(op["responses"])
        label = f"{method.upper()} {path}"
        if method == "post":
            assert {"400", "413"} <= codes, label  # the body guard, before routing
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in codes, label
        assert ("401" in codes) == bool(op.get("security")), label
        assert ("503" in codes) == (path != "/healthz"), label
        for code, response in op["responses"].items():
            if code >= "400":
                assert response["content"]["application/json"]["schema"] == ERROR_REF, (label, code)
                assert response["description"], (label, code)


def _call(client: TestClient, method: str, path: str, headers: dict | None = None):
    url = path.replace("{article_id}", "1").replace("{cluster_id}", "1")
    body = {} if method in ("post", "put", "patch") else None
    return client.request(method, url, json=body, headers=headers, params={"url": "https://a.example/1", "a": 1, "b": 1})


def test_operations_marked_secured_are_exactly_those_that_refuse_a_missing_key(client, schema):
    for method, path, op in _operations(schema):
        status = _call(client, method, path).status_code
        assert (status == 401) == bool(op.get("security")), (method, path, status)
        if status == 401:
            assert _call(client, method, path, {"Authorization": "Bearer wrong"}).status_code == 401
            assert _call(client, method, path, {"X-API-Key": KEY}).status_code != 401
            assert _call(client, method, path, {"Authorization": f"Bearer {KEY}"}).status_code != 401
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "description": schemes["bearer"]["description"]}
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "X-API-Key"


def test_metrics_content_type_is_the_documented_prometheus_text_format(client, schema):
    documented = schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(documented) == ["text/plain; version=0.0.4; charset=utf-8"]
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE dedup_articles gauge" in r.text


@pytest.mark.parametrize("body, valid", [
    ({"text": STORY}, True), ({"html": f"<p>{STORY}</p>"}, True), ({"text": STORY, "html": None}, True),
    ({"text": None, "html": f"<p>{STORY}</p>"}, True), ({"text": STORY, "html": f"<p>{STORY}</p>"}, False),
    ({}, False), ({"text": None}, False), ({"text": None, "html": None}, False)])
def test_text_or_html_rule_is_in_the_schema_and_holds(client, schema, body, valid):
    """Exactly one of text and html: the schema says so (oneOf), and both endpoints that take them agree."""
    components = schema["components"]["schemas"]
    search = jsonschema_rs.validator_for(components["SearchBody"])
    assert search.is_valid(body) is valid
    r = client.post("/v1/duplicates/search", json=body)
    assert (r.status_code == 200) is valid, r.text
    article = {"url": "https://b.example/1", **body}
    assert jsonschema_rs.validator_for(components["ArticleBody"]).is_valid(article) is valid
    r = client.post("/v1/articles", json=article, headers={"X-API-Key": KEY})
    assert (r.status_code in (200, 201)) is valid, r.text
    if not valid:
        assert r.status_code == 422 and "text" in r.json()["error"]["message"]


@pytest.mark.parametrize("dry_run", ["yes", "true", 1, 0, None, "false"])
def test_dry_run_takes_only_a_boolean(client, schema, dry_run):
    """A string, number or null is refused, as the schema's boolean type says (the lax parsing before read
    "yes", "false", 1 or 0 as booleans and started a run)."""
    field = schema["components"]["schemas"]["ReclusterIn"]["properties"]["dry_run"]
    assert field["type"] == "boolean"
    runs = len(client.get("/v1/recluster/runs").json()["runs"])
    r = client.post("/v1/admin/recluster", json={"dry_run": dry_run}, headers={"X-API-Key": KEY})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["fields"] == ["dry_run"]
    assert len(client.get("/v1/recluster/runs").json()["runs"]) == runs


def test_ingest_documents_both_success_statuses(client, schema):
    """201 for a new article, 200 when the URL was stored already (unchanged or updated)."""
    responses = schema["paths"]["/v1/articles"]["post"]["responses"]
    assert responses["201"]["content"]["application/json"]["schema"] == responses["200"]["content"][
        "application/json"]["schema"] == {"$ref": "#/components/schemas/IngestOut"}
    article = {"url": "https://c.example/again", "text": STORY}
    assert client.post("/v1/articles", json=article, headers={"X-API-Key": KEY}).status_code == 201
    again = client.post("/v1/articles", json=article, headers={"X-API-Key": KEY})
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
