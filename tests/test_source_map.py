"""The source map: every normalized character points back at the visible character it came from."""

from __future__ import annotations

import pytest

from dedup.config import NormalizationConfig
from dedup.text.normalize import normalize_text
from dedup.text.source_map import _fold, source_map
from tests.conftest import SEEDS

CONFIG = NormalizationConfig()

MADE_UP = {
    "html": "<html><body><nav>首页 | 新闻</nav><h1>标题在这里</h1><p>今年全市新建道路1,200公里，比去年增长3.5%。"
            "</p><p>来源：本地日报</p><script>var x = 1;</script><p>市民&amp;游客都很满意。</p></body></html>",
    "front_matter": "---\ntitle: 会议召开\ndate: 2026-03-13\n---\n会议于上午九时召开，共有二百名代表出席。\n\n"
                    "大会审议通过了三项决议。\n责任编辑：李四\n",
    "traditional": "雙鴨山市組建招商「尖刀班」，帶動經濟「加速跑」。\n去年獲得省百大項目獎勵資金3050萬元。\n"
                   "版權所有，未經授權不得轉載。",
    "pinyin": "今年以來，全市建設(shè)了一批產業(yè)項目(xiàng mù)，區(qū)縣經濟穩步增長。(記者 張三 攝)",
    "latin_and_width": "ＡＢＣ公司（ABC Company）宣布：第３季度收入增長１５％，Revenue grew in Q3.\nhttps://x.example/a",
}


def _cases() -> list[tuple[str, str]]:
    return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))] + list(MADE_UP.items())


@pytest.mark.parametrize(("name", "raw"), _cases(), ids=[c[0] for c in _cases()])
def test_every_normalized_character_comes_from_its_visible_character(name, raw):
    norm = normalize_text(raw, CONFIG).text
    m = source_map(raw, norm, CONFIG)
    assert norm, name
    written = []  # normalized characters a visible one folds to (not the ones the normalizer writes itself)
    for i, ch in enumerate(norm):
        start, end = m.starts[i], m.ends[i]
        if ch == " " and start < 0:
            continue  # the space between two Latin words a line break made
        assert 0 <= start < end <= len(m.visible), (name, i, ch)
        source = m.visible[start:end]
        if ch in " ./" and not any(_fold(c, CONFIG) for c in source):
            # the normalizer's own: a space between Latin words, a decimal point or a separator between
            # numbers, mapped to the punctuation or spacing it stands for
            assert ch != "." or source in (".", "．"), (name, i, source)
            continue
        assert ch in "".join(_fold(c, CONFIG) for c in source), (name, i, ch, source)
        written.append(i)
    mapped = [m.starts[i] for i in written]
    assert mapped == sorted(mapped), "the map keeps reading order"
    # Together the mapped characters, folded, spell the normalized text.
    assert "".join(_fold(m.visible[s], CONFIG) for s in dict.fromkeys(mapped)) == "".join(norm[i] for i in written)


def test_a_span_of_normalized_text_covers_its_punctuation_in_the_visible_text():
    raw = MADE_UP["html"]
    norm = normalize_text(raw, CONFIG).text
    m = source_map(raw, norm, CONFIG)
    start = norm.index("1/200")  # a thousands comma between digits is kept as a separator, the point as a point
    lo, hi = m.span(start, start + len("1/200公里比去年增长3.5"))
    assert m.visible[lo:hi] == "1,200公里，比去年增长3.5"
    assert "<p>" not in m.visible and "var x" not in m.visible  # markup and scripts are not shown


def test_removed_marks_boilerplate_and_notes_but_not_the_story():
    raw = MADE_UP["pinyin"] + "\n来源：本地日报\n版权所有，未经授权不得转载。"
    m = source_map(raw, normalize_text(raw, CONFIG).text, CONFIG)
    removed = "".join(c for c, r in zip(m.visible, m.removed) if r)
    assert "来源本地日报" in removed and "版权所有" in removed and "記者張三攝" in removed
    assert "shè" in removed and "yè" in removed
    assert "建設" not in removed and "增長" not in removed


def test_a_long_one_paragraph_article_with_notes_maps_in_linear_time():
    """A story that is one 40,000-character line with notes cut out of it: a general diff of the line against
    its cut version took 20 s here; the map walks it once."""
    import time

    sentence = "会议指出，今年全市完成投资{}亿元（记者 王五 摄），同比增长百分之{}。"
    raw = "".join(sentence.format(k, k % 17) for k in range(1_200))
    norm = normalize_text(raw, CONFIG).text
    start = time.perf_counter()
    m = source_map(raw, norm, CONFIG)
    assert time.perf_counter() - start < 5
    assert "".join(_fold(m.visible[s], CONFIG) for s in dict.fromkeys(m.starts) if s >= 0) == norm
    removed = "".join(c for c, r in zip(m.visible, m.removed) if r)
    assert removed == "记者王五摄" * 1_200
