"""The compiled normalization and signing paths give exactly what the Python reference gives.

Every stored signature and the config version string depend on the normalized text, so the two paths must
agree character for character on any input, not only on news.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import NormalizationConfig, SignatureConfig
from dedup.sketch.shingle import shingle_hashes
from dedup.sketch.signature import minhash_values, sign_text
from dedup.text import compiled_fold as fastpath
from dedup.text.normalize import normalize_text

ROOT = Path(__file__).resolve().parent.parent
CONFIG = NormalizationConfig()
SIG = SignatureConfig()

pytestmark = pytest.mark.skipif(not fastpath.compiled_features()["fold"],
                                reason="the compiled fold is not available in this build")

_SIMPLIFIED = "覆沈坏像么俱藉瞭哩回深答口然的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所"
_TRADITIONAL = "國會發來時對動個為實開總現於並務報強員網聯視聞覆進將區體長乾著後裡麼臺灣衛餘鬱"
_LATIN = "abcxyzABCXYZ éÉßİıΣσςΩω ＡＢｃｄ１２３０9 "
_PUNCT = ".,;:!?()[]{}<>/\\-_·…—“”‘’，。、；：！？（）【】《》／．\u3000\t\n\r\ufffd%"
_ODD = "⑴①Ⅻ㈱ﬁ\u0301\u0308\u1100\u1161\u11a8가각\u00b5\u2126\U0002000b\U0001d400\uf900\uf9dc"
_PINYIN = ["(shè)", "（jiàn）", "(zhāng)", "(GDP)", "(app)"]
_HTML = ["<p>", "</p>", "<br/>", "<script>var a=1;</script>", "&amp;", "&#x4e2d;", "<div class='x'>"]
_PHRASES = ["回覆", "反覆", "深沈", "藉口", "一目瞭然", "英哩", "像么", "覆盖", "沈阳"]
_LINES = ["来源：新华社", "責任編輯：張三", "版权所有 未经授权不得转载", "分享到：", "(记者 王五 摄)",
          "https://news.example.com/a/1.html", "1/3", "2/3", "记者 李四 报道"]

pieces = st.one_of(
    st.text(alphabet=st.sampled_from(_SIMPLIFIED + _TRADITIONAL + _LATIN + _PUNCT + _ODD), max_size=40),
    st.sampled_from(_PINYIN + _HTML + _LINES + _PHRASES),
)
mixes = st.lists(pieces, max_size=12).map("".join)


def _both(text: str) -> tuple[str, str]:
    return normalize_text(text, CONFIG).text, normalize_text(text, CONFIG, compiled=False).text


@settings(max_examples=600, deadline=None)
@given(mixes)
def test_compiled_and_reference_normalization_agree_on_mixed_text(text):
    compiled, reference = _both(text)
    assert compiled == reference


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_compiled_and_reference_normalization_agree_on_any_unicode(text):
    compiled, reference = _both(text)
    assert compiled == reference


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(_SIMPLIFIED + "，。、"), min_size=1, max_size=80),
       st.sampled_from(["s2t", "s2tw", "s2hk", "s2twp"]))
def test_traditional_reposts_take_opencc_and_agree(text, config):
    converted = opencc.OpenCC(config).convert(text)
    compiled, reference = _both(converted)
    assert compiled == reference


def _corpus() -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in sorted((ROOT / "seeds").glob("*.txt"))]
    for line in (ROOT / "eval" / "zh_dev.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts.append(row.get("text") or row.get("html") or "")
    return texts


def test_seeds_and_dev_set_normalize_identically():
    texts = _corpus()
    assert len(texts) > 1000
    differing = [text[:60] for text in texts if _both(text)[0] != _both(text)[1]]
    assert differing == []


def test_most_simplified_news_takes_the_compiled_fold():
    simplified = [t for t in _corpus() if not fastpath.t2s_triggers().converting.intersection(t)]
    folded = sum(fastpath.fold(t) is not None for t in simplified)
    assert folded > 0.9 * len(simplified)


def test_a_phrase_that_converts_as_a_whole_still_converts():
    assert normalize_text("他回覆说深沈的覆盖", CONFIG).text == "他回复说深沉的覆盖"
    assert fastpath.fold("他回覆说") is None and fastpath.fold("他回覆。说") is None
    assert fastpath.fold("覆盖面积扩大") == normalize_text("覆盖面积扩大", CONFIG, compiled=False).text


@settings(max_examples=300, deadline=None)
@given(mixes)
def test_one_call_signing_equals_shingles_then_minhash(text):
    normalized = normalize_text(text, CONFIG).text
    shingles, values = sign_text(normalized, SIG)
    expected = shingle_hashes(normalized, SIG, accelerated=False)
    assert np.array_equal(shingles, expected)
    if len(expected):
        assert np.array_equal(values, minhash_values(expected, SIG, accelerated=False))
    else:
        assert len(values) == 0
    python_shingles, python_values = sign_text(normalized, SIG, accelerated=False)
    assert np.array_equal(python_shingles, shingles) and np.array_equal(python_values, values)


def test_the_features_in_use_are_reported():
    features = fastpath.compiled_features()
    assert features == {"extension": True, "fold": True, "sign": True}
    assert fastpath.describe() == "normalization and signing: compiled (extension, fold, sign)"


def test_turning_the_compiled_parts_off_changes_the_report_not_the_text():
    text = "國務院發佈《規劃》，GDP增長12.5%（記者 王五）覆盖面积扩大。"
    expected = normalize_text(text, CONFIG).text
    fastpath.disable("fold", "sign")
    try:
        assert fastpath.compiled_features() == {"extension": True, "fold": False, "sign": False}
        assert "Python path for fold, sign" in fastpath.describe()
        assert normalize_text(text, CONFIG).text == expected
        assert np.array_equal(sign_text(expected, SIG)[1], minhash_values(shingle_hashes(expected, SIG), SIG))
    finally:
        fastpath.enable("fold", "sign")
    assert fastpath.compiled_features()["fold"]


def _units_both(text: str):  # type: ignore[no-untyped-def]
    from dedup.decide import alignment
    if alignment._text_units is None:
        pytest.skip("the compiled alignment units are not in this build")
    return alignment.to_units.__wrapped__(text), alignment._to_units(text[:alignment._ALIGN_LIMIT * 4])


@settings(max_examples=400, deadline=None)
@given(st.one_of(mixes, st.text(max_size=120)))
def test_compiled_alignment_units_equal_the_reference(text):
    """The twin guard aligns texts by units (a word, or a character): both paths cut and key them alike."""
    compiled, reference = _units_both(text)
    assert compiled == reference


def test_every_character_is_read_as_the_reference_reads_it():
    """Each BMP character and the CJK range edges, alone and between letters, digits and spaces: a word
    character, whitespace, or a unit of its own, as the reference's regex classes say."""
    edges = [0x3134F, 0x31350, 0x1FFFF, 0x20000, 0x1D400]
    for code in [*range(0xD800), *range(0xE000, 0x10000), *edges]:
        c = chr(code)
        compiled, reference = _units_both(f"a{c}1 {c}{c}")
        assert compiled == reference, hex(code)


@settings(max_examples=400, deadline=None)
@given(st.one_of(mixes, st.text(max_size=120)))
def test_compiled_and_reference_line_keys_agree(line):
    """Learned-boilerplate lines are keyed by their folded form: the compiled fold must give the reference's
    text (else a line learned on one path would not be recognised on the other)."""
    from dedup.text.learned_boilerplate import _fold

    assert _fold(line) == _fold(line, compiled=False)


def test_every_bmp_character_line_folds_as_the_reference():
    """Each character alone between CJK, with a digit, a capital and a space around: the compiled fold (where it
    takes the character) gives what the reference gives."""
    from dedup.text.learned_boilerplate import _fold

    taken = 0
    for code in range(0x10000):
        if 0xD800 <= code < 0xE000:
            continue
        line = f"中{chr(code)}文 A1{chr(code)}"
        taken += fastpath.fold_line(line) is not None
        assert _fold(line) == _fold(line, compiled=False), hex(code)
    assert taken > 40_000  # the compiled fold takes most characters (CJK, letters, digits, punctuation)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(list(fastpath.t2s_triggers().phrases) if fastpath.t2s_triggers() else []),
                          st.text(alphabet=st.sampled_from(_SIMPLIFIED + "坏覆沈瞭藉哩甦衹一土打拉反思量"), max_size=6)),
                max_size=8).map("".join))
def test_the_phrase_check_at_the_marks_finds_what_the_phrase_regex_finds(text):
    """The compiled fold hands a text with a converting phrase to OpenCC: looking for the phrases only where their
    marks occur must find exactly the texts the regex of all phrases finds."""
    assert fastpath.holds_phrase(text) == (fastpath._phrase_pattern().search(text) is not None)


def test_the_scan_for_composing_characters_skips_only_ranges_without_decompositions():
    """The fold table's start-up scan reads a tenth of the code points; it must find what reading all of them finds
    (a Python with a newer Unicode database would fail here first)."""
    assert fastpath._composes_after() == fastpath._composes_after((range(0x110000),))
