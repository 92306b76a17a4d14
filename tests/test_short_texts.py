"""Short texts keep denser LSH bands (dedup.candidates.layouts): a short cut repost whose Jaccard is below the main
bands' threshold is still proposed, while long texts never read the dense buckets of other long texts, so the
candidates of an ordinary lookup do not grow with the store."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.candidates.bands import BandIndex
from dedup.candidates.index import SignatureIndex
from dedup.candidates.layouts import BandLayout, band_layouts, describe, layout_for
from dedup.config import DecisionConfig
from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.settings import Settings
from tests.api_backends import redis_prefix
from tests.conftest import service_url

# An invented story of seven sentences (236 characters) and a repost of its first two (69 characters): Jaccard
# about 0.28, containment 1. With the containment path off, only a band can propose the pair, and the main layout
# (0.3: 37 bands of 3 rows) shares none with it.
STORY = ("部分食堂还开设了送餐上门服务，由志愿者每天为行动不便的老人配送饭菜。下一步，全市将在年底前再建成社区食堂三十家，"
         "并推动食堂向周边学校开放。专家表示，社区食堂要形成可持续的运营模式，不能只靠财政补贴维持。本市今年第三季度新建"
         "社区食堂四十二家，覆盖老旧小区居民约六万人。据了解，食堂的建设资金由市区两级财政共同承担，运营由专业餐饮企业负责。"
         "居民王阿姨说，以前一个人在家做饭很麻烦，现在下楼就能吃上热乎的饭菜。市场监管部门将对食堂开展定期检查，确保食材来源"
         "可追溯、操作流程规范。")
CUT = "部分食堂还开设了送餐上门服务，由志愿者每天为行动不便的老人配送饭菜。下一步，全市将在年底前再建成社区食堂三十家，并推动食堂向周边学校开放。"


def test_the_default_layouts_are_a_main_one_and_a_dense_pair_for_short_texts():
    main, tiny, near_tiny = band_layouts(128, DecisionConfig())
    assert (main.bands, main.rows, main.for_every_text) == (37, 3, True)
    assert (tiny.bands, tiny.rows, tiny.store_at_most, tiny.query_at_most) == (28, 2, 80, 400)
    assert (near_tiny.bands, near_tiny.rows, near_tiny.store_at_most, near_tiny.query_at_most) == (28, 2, 400, 80)
    assert describe(band_layouts(128, DecisionConfig())) == "37x3,28x2s80q400,28x2s400q80"
    assert band_layouts(128, DecisionConfig(short_text_shingles=0)) == (main,)
    assert band_layouts(128, DecisionConfig(short_lsh_threshold=0.3)) == (main,)  # not denser: nothing to add


def test_short_bands_not_denser_than_the_main_ones_add_nothing_and_refuse_nothing():
    # a store configured with a low main threshold before the short-text bands existed starts as it did
    assert band_layouts(128, DecisionConfig(lsh_threshold=0.1)) == (BandLayout(*layout_for(0.1, 128)),)
    assert Settings(lsh_threshold=0.1, redis_url=None).decision().short_lsh_threshold == 0.2
    with pytest.raises(ValueError, match="short_text_shingles must be 0"):
        DecisionConfig(short_text_shingles=-1)


@pytest.mark.parametrize("story_first", [True, False])
def test_a_short_cut_repost_only_the_dense_bands_propose_joins_its_story(tmp_path, story_first):
    def cluster_of_both(short_text_shingles: int) -> bool:
        settings = Settings(database_url=str(tmp_path / f"d{short_text_shingles}.db"), redis_url=None,
                            anchor_rate=0, short_text_shingles=short_text_shingles)
        engine = Engine(settings)
        try:
            texts = [("https://a.example/story", STORY), ("https://b.example/cut", CUT)]
            first, second = [engine.ingest(ArticleIn(url=u, text=t)) for u, t in texts[::1 if story_first else -1]]
            return first.cluster_id == second.cluster_id and second.is_duplicate
        finally:
            engine.close()

    assert cluster_of_both(80)
    assert not cluster_of_both(0)  # the main bands alone miss it: the dense ones are what found it


def _sharing_one_dense_band(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Two signatures equal in the first two values only: one band of the 28 x 2 layout, none of the 37 x 3 one."""
    rng = np.random.default_rng(seed)
    query = rng.integers(0, 2**32, size=128, dtype=np.uint32)
    stored = rng.integers(0, 2**32, size=128, dtype=np.uint32)
    stored[:2] = query[:2]
    return query, stored


# (shingles of the query, shingles of the stored text, proposed): a tiny text and one up to five times its bound,
# in either order; never two longer texts, nor a tiny one and a text too long to reach Jaccard 0.2 with it.
CASES = [(50, 300, True), (300, 50, True), (80, 400, True), (400, 80, True),
         (300, 300, False), (50, 1000, False), (1000, 50, False), (81, 400, False)]


def _layouts() -> tuple:
    return band_layouts(128, DecisionConfig())


def _open(kind: str, stack):  # type: ignore[no-untyped-def]
    settings = Settings(redis_url=None)
    if kind == "process":
        return BandIndex(128, _layouts())
    url = service_url("DEDUP_TEST_REDIS_URL")
    prefix = stack.enter_context(redis_prefix(url))
    index = SignatureIndex(settings.signature(), _layouts(), redis_url=url, prefix=prefix)
    index.mark_complete()
    return index


@pytest.mark.parametrize("kind", ["process", "redis"])
def test_which_lengths_read_the_dense_bands_in_process_and_in_redis(kind):
    from contextlib import ExitStack

    query, stored = _sharing_one_dense_band()
    with ExitStack() as stack:
        index = _open(kind, stack)
        for number, (asking, held, proposed) in enumerate(CASES, start=1):
            index.insert(number, stored, held)
            found = index.query(query, shingle_count=asking)
            assert (number in found) is proposed, (asking, held)
            index.remove(number)
            assert number not in index.query(query, shingle_count=asking)
        assert index.query(query) == []  # length unknown: the main layout only
