"""Hypothesis against the OpenAPI schema: every operation the app publishes gets generated requests, valid-looking
and hostile (wrong types, huge and negative numbers, NUL bytes, lone surrogates, SQL and path injection, unknown
fields, raw garbage bodies). The one rule: no 5xx, and every error has the documented shape.

Operations are read from /openapi.json, so a route added later is fuzzed without touching this file.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.main import create_app
from tests.api_backends import STORY, backend_settings
from tests.reliability.harness import full, record

HOSTILE = ["'; DROP TABLE articles; --", "../../../etc/passwd", "\x00", "a\x00b", "javascript:alert(1)", "\ud800",
           "𠀀" * 50, "<script>alert(1)</script>", "%00", "%2e%2e%2f", "1 OR 1=1", "", " ", "\u202e", "null",
           "https://a.example/1", "ftp://x", "file:///etc/passwd", "2024-02-30", "9" * 40, "-1", "NaN"]
NUMBERS = st.one_of(st.integers(-(2**70), 2**70), st.integers(-3, 5), st.floats(allow_nan=True, allow_infinity=True))
TEXTS = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60), st.just(STORY),
                  st.builds(lambda a, b: a + b, st.sampled_from(HOSTILE), st.just(STORY)))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXTS)
JUNK = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=12)
URLS = st.one_of(st.sampled_from(HOSTILE), st.integers(0, 50).map(lambda n: f"https://f.example/{n}"))


def _value(schema: dict, components: dict) -> st.SearchStrategy:
    """Mostly what the schema asks for, often something else."""
    if "$ref" in schema:
        return _body(components[schema["$ref"].rsplit("/", 1)[1]], components)
    options = schema.get("anyOf", [schema])
    kinds = {o.get("type") for o in options}
    typed: list[st.SearchStrategy] = []
    if "integer" in kinds or "number" in kinds:
        typed.append(NUMBERS)
    if "string" in kinds:
        typed.append(TEXTS)
    if "array" in kinds:
        typed.append(st.lists(st.one_of(_article(), JUNK), max_size=5))
    return st.one_of(*typed, JUNK) if typed else JUNK


def _article() -> st.SearchStrategy:
    """Often a plausible article (so ingest, update and clustering paths run too), often a broken one."""
    plausible = st.fixed_dictionaries({"url": URLS, "text": TEXTS}, optional={"title": TEXTS, "source": TEXTS})
    broken = st.fixed_dictionaries({"url": URLS}, optional={"text": TEXTS, "html": TEXTS, "title": TEXTS,
                                                            "source": TEXTS, "published_at": TEXTS, "extra": JUNK})
    return st.one_of(plausible, plausible, broken)


def _body(schema: dict, components: dict) -> st.SearchStrategy:
    props = schema.get("properties", {})
    required = {k: _value(v, components) for k, v in props.items() if k in schema.get("required", [])}
    optional = {k: _value(v, components) for k, v in props.items() if k not in required}
    shaped = st.fixed_dictionaries(required, optional={**optional, "unknown_field": JUNK})
    if "url" in props:
        shaped = st.one_of(shaped, _article())
    return st.one_of(shaped, shaped, shaped, JUNK)


def _raw() -> st.SearchStrategy:
    return st.one_of(st.binary(max_size=200), st.sampled_from([b"", b"{", b"[]", b"null", b'{"a":' * 200,
                                                               b"\xff\xfe\x00", b'{"url": "\\ud800"}']))


def _operations(client: TestClient) -> list[tuple[str, str, dict]]:
    schema = client.get("/openapi.json").json()
    return [(m.upper(), p, op) for p, ops in schema["paths"].items() for m, op in ops.items()]


def _request(method: str, path: str, op: dict, components: dict) -> st.SearchStrategy:
    params = op.get("parameters", [])
    path_values = {p["name"]: st.one_of(NUMBERS, TEXTS) for p in params if p["in"] == "path"}
    query_values = {p["name"]: _value(p["schema"], components) for p in params if p["in"] == "query"}
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    body = st.one_of(_value(body_schema, components).map(lambda b: ("json", b)), _raw().map(lambda b: ("raw", b))) \
        if body_schema else st.just(("none", None))
    return st.tuples(st.just(method), st.just(path), st.fixed_dictionaries(path_values),
                     st.fixed_dictionaries({}, optional=query_values), body)


def _send(client: TestClient, method: str, path: str, path_values: dict, query: dict, body: tuple):
    """Percent-encode by hand: lone surrogates go out as the invalid UTF-8 bytes a hostile client would send."""
    url = re.sub(r"\{(\w+)\}", lambda m: _quoted(path_values[m.group(1)]) or "x", path)
    pairs = [f"{_quoted(k)}={_quoted(json.dumps(v) if isinstance(v, (dict, list)) else '' if v is None else v)}"
             for k, v in query.items()]
    kind, payload = body
    content = payload if kind == "raw" else json.dumps(payload).encode() if kind == "json" else None
    return client.request(method, url + ("?" + "&".join(pairs) if pairs else ""), content=content,
                          headers={"content-type": "application/json"} if content is not None else None)


def _quoted(value: object) -> str:
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


def _fuzz(client: TestClient, examples: int) -> tuple[int, Counter]:
    schema = client.get("/openapi.json").json()
    components = schema.get("components", {}).get("schemas", {})
    statuses: Counter = Counter()
    failures: list[str] = []
    for method, path, op in _operations(client):
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(_request(method, path, op, components))
        def case(request: tuple) -> None:
            response = _send(client, *request)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{request!r} -> {response.status_code} {response.text[:300]}")
            elif response.status_code >= 400:
                error = response.json()["error"]
                assert isinstance(error["code"], str) and isinstance(error["message"], str)

        case()
    assert not failures, failures[:5]
    return sum(statuses.values()), statuses


@pytest.mark.parametrize("kind", ["sqlite", "services"])
def test_no_5xx_for_any_generated_request(kind, tmp_path):
    examples = full(100, 1000) if kind == "sqlite" else full(25, 300)
    with backend_settings(kind, tmp_path) as backend, \
            TestClient(create_app(backend), raise_server_exceptions=False) as client:
        cases, statuses = _fuzz(client, examples)
        operations = len(_operations(client))
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    assert server_errors == 0
    record(f"fuzz_{kind}", operations=operations, cases=cases, server_errors=server_errors,
           statuses=dict(sorted(statuses.items())))
