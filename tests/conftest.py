"""Shared fixtures: settings on a temporary SQLite file, the seeds, the dev set, real backends."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from dedup.engine import Engine
from dedup.settings import Settings
from dedup.sketch.accelerator import native_parts


@pytest.fixture(autouse=True)
def _dedup_logging_restored():
    """An app built in one test adds the JSON log handler (app.access_log.configure_logging); the next test's CLI
    output would carry its lines. Every test starts and ends with the logger as it was."""
    logger = logging.getLogger("dedup")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DEV_SET = Path(os.environ.get("DEDUP_DEV_SET", ROOT / "eval" / "zh_dev.jsonl"))
REQUIRE_SERVICES = os.environ.get("DEDUP_REQUIRE_SERVICES") == "1"


# The tests comparing the compiled C functions with the numpy/regex paths: without the C module they would compare
# the fallback with itself, so they skip and say why.
needs_native = pytest.mark.skipif(not native_parts(), reason="dedup/_native is not built (python setup.py "
                                  "build_ext --inplace): nothing to compare the numpy path with")


# Marked `slow` here, beside the tests marked in their own files (Spark, the full dev set): `make test` leaves
# them out (-m "not slow") so the quick loop takes minutes; .ci/run and the README's command run them all.
SLOW_FILES = {
    "test_browser.py": "a real Chromium",
    "test_browser_alerts.py": "a real Chromium",
    "test_alerts.py": "servers SIGKILLed while posting alerts",  # tests/reliability/ only (see below)
    "test_crash.py": "a server SIGKILLed at random moments",
    "test_recluster_crash.py": "a re-cluster SIGKILLed mid-run",
    "test_recluster_chaos.py": "ingest, delete and re-cluster at once against a real server",
    "test_load.py": "16 clients against a real server",
    "test_outages.py": "Redis stopped mid-run, PostgreSQL unreachable at start-up",
    "test_redis_eviction.py": "a redis-server of its own per test",
    "test_fuzz_api.py": "generated requests against every operation",
    "test_schema_conformance.py": "schemathesis against every operation",
    "test_linear_input.py": "timing growth of every parser, best of three",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if path.name in SLOW_FILES and (path.name != "test_alerts.py" or path.parent.name == "reliability"):
            item.add_marker(pytest.mark.slow)


def service_url(name: str) -> str:
    """URL of a shared test server from the environment; skip (or fail in CI) when it is absent."""
    url = os.environ.get(name)
    if not url:
        if REQUIRE_SERVICES:
            pytest.fail(f"{name} is not set, but CI requires the real backend tests to run")
        pytest.skip(f"{name} is not set: the real-backend test needs that server")
    return url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=str(tmp_path / "dedup.db"), redis_url=None)


@pytest.fixture
def engine(settings: Settings):
    eng = Engine(settings)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def seed_files() -> list[Path]:
    return sorted(SEEDS.glob("*.txt"))
