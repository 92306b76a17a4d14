"""The package's public surface: what a library user imports from `dedup`, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import pytest

import dedup


def test_a_library_user_ingests_and_finds_the_repost_with_names_from_the_package(tmp_path):
    from dedup import ArticleIn, Engine, Settings

    engine = Engine(Settings(database_url=str(tmp_path / "lib.db")))
    try:
        story = "市政府今天宣布，全市公共交通将于下月起延长运营时间，地铁末班车推迟到午夜十二点。" * 3
        first = engine.ingest(ArticleIn(url="https://a.example/1", text=story))
        copy = engine.ingest(ArticleIn(url="https://b.example/1", text=story + "（来源：新华网）"))
    finally:
        engine.close()
    assert copy.is_duplicate and copy.cluster_id == first.cluster_id


def test_all_lists_every_export():
    assert sorted(dedup.__all__) == sorted(dedup._EXPORTS)


@pytest.mark.parametrize("name", dedup.__all__)
def test_every_exported_name_resolves(name):
    assert getattr(dedup, name).__name__ == name


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Engin'"):
        dedup.Engin  # noqa: B018


def test_importing_the_package_loads_no_heavy_dependency():
    probe = "import sys, dedup; print(' '.join(m for m in ('numpy', 'sqlalchemy', 'jieba', 'pydantic') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_every_engine_error_is_a_dedup_error():
    for name in dedup.__all__:
        value = getattr(dedup, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, dedup.DedupError), name
