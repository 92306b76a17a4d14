"""Shared fixtures: settings on a temporary SQLite file, the seeds, the dev set, real backends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dedup.accelerator import native_parts
from dedup.engine import Engine
from dedup.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DEV_SET = Path(os.environ.get("DEDUP_DEV_SET", ROOT / "eval" / "zh_dev.jsonl"))
REQUIRE_SERVICES = os.environ.get("DEDUP_REQUIRE_SERVICES") == "1"


# The tests comparing the compiled C functions with the numpy/regex paths: without the C module they would compare
# the fallback with itself, so they skip and say why.
needs_native = pytest.mark.skipif(not native_parts(), reason="dedup/_native is not built (python setup.py "
                                  "build_ext --inplace): nothing to compare the numpy path with")


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
