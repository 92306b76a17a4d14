"""Schemathesis holds the published OpenAPI schema to the real answers (a bounded run in every CI run).

For every operation in /openapi.json it generates schema-valid requests and requests that break the schema
(wrong types, missing or extra fields, out-of-range numbers), sends them to the app (SQLite, with an API key
set, as deployed), and checks each answer:

- no 5xx;
- the status code is documented for the operation, with the documented content type, headers and body
  schema (the error answers too: `{"error": {"code", "message"}}`);
- a request that breaks the schema is refused with a 4xx (a `dry_run` of `"yes"` must not start a run);
- a guarded operation refuses a request without the key, or with a wrong one (401).

Not checked: that every schema-valid request is accepted. The engine applies content rules a JSON schema
cannot state (a URL must parse as http(s), a text must have words left after extraction, a cursor must be one
this API issued), so many schema-valid requests get a documented 422, as they should.

test_fuzz_api.py adds hostile bytes (lone surrogates, NUL, raw garbage) that schema-based generation does not
send; tests/test_openapi_schema.py checks the schema's statements one by one.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.errors import FailureGroup

from app.main import create_app, open_engine
from dedup.settings import Settings
from tests.reliability.harness import FULL, full, record

KEY = "conformance-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance,
          checks.negative_data_rejection, checks.ignored_auth, checks.missing_required_header]


def _modes(operation: schemathesis.APIOperation) -> list[schemathesis.GenerationMode]:
    """Negative cases need something to break: a parameter or a body."""
    raw = operation.definition.raw
    if raw.get("parameters") or raw.get("requestBody"):
        return [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    return [schemathesis.GenerationMode.POSITIVE]


def _run(operation: schemathesis.APIOperation, mode: schemathesis.GenerationMode, examples: int,
         statuses: Counter, failures: list[str]) -> None:
    @settings(max_examples=examples, deadline=None, derandomize=not FULL, database=None,
              suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=mode))
    def case_conforms(case: schemathesis.Case) -> None:
        response = case.call(headers=AUTH)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=AUTH)
        except (FailureGroup, AssertionError) as exc:  # a group holds one failure per broken check
            for failure in getattr(exc, "exceptions", [exc]):
                failures.append(f"{operation.label} ({mode.value}): {str(failure).strip()[:400]}\n"
                                f"    {case.as_curl_command(headers=AUTH)[:400]}")

    case_conforms()


def test_every_answer_conforms_to_the_published_schema(tmp_path):
    examples = full(15, 200)
    settings_ = Settings(database_url=str(tmp_path / "schema.db"), redis_url=None, api_key=KEY,
                         max_article_bytes=10_000)
    engine = open_engine(settings_)
    app = create_app(settings_, engine=engine)
    quiet = logging.getLogger("dedup")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # after create_app, which sets it: thousands of access-log lines slow the run
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        statuses: Counter = Counter()
        failures: list[str] = []
        start = time.perf_counter()
        for operation in operations:
            for mode in _modes(operation):
                _run(operation, mode, examples, statuses, failures)
        seconds = round(time.perf_counter() - start, 1)
    finally:
        quiet.setLevel(level)
        engine.close()
    record("schema_conformance", operations=len(operations), cases=sum(statuses.values()), seconds=seconds,
           failures=len(failures), statuses=dict(sorted(statuses.items())))
    assert len(operations) >= 14
    assert not failures, f"{len(failures)} answers differ from the schema:\n" + "\n".join(failures[:8])
    assert sum(n for status, n in statuses.items() if status < 300) > 0, statuses  # not only refusals


def test_every_undocumented_method_is_405_with_the_documented_allow(tmp_path):
    """What schemathesis's coverage phase checks, for every path of the schema: a method the schema does not
    list answers 405, and `Allow` names exactly the methods it lists."""
    from fastapi.testclient import TestClient

    settings_ = Settings(database_url=str(tmp_path / "allow.db"), redis_url=None, api_key=KEY)
    with TestClient(create_app(settings_)) as client:
        paths = client.get("/openapi.json").json()["paths"]
        for template, operations in paths.items():
            path = template.replace("{article_id}", "1").replace("{cluster_id}", "1")
            documented = {m.upper() for m in operations}
            for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - documented:
                r = client.request(method, path, headers=AUTH)
                assert r.status_code == 405, (method, template, r.status_code)
                assert set(r.headers["allow"].split(", ")) == documented, (method, template, r.headers["allow"])
