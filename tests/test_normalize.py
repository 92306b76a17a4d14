"""Normalization: what reposts change is folded away; facts and real parentheses survive."""

from __future__ import annotations

import opencc
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.config import NormalizationConfig
from dedup.text.normalize import drop_punctuation, normalize_text
from tests.conftest import needs_native

CONFIG = NormalizationConfig()


def norm(text: str, **kw) -> str:
    return normalize_text(text, CONFIG, **kw).text


def test_pinyin_notes_go_real_parentheses_stay():
    assert norm("項目建設(shè)和轉(zhuǎn)型") == "项目建设和转型"
    assert norm("增长(GDP)与会议(扩大)") == "增长gdp与会议扩大"
    assert norm("下载应用(app)") == "下载应用app"


def test_traditional_taiwan_and_hong_kong_forms_fold_to_simplified():
    simplified = "卫星叙述着名的里程碑行为"
    for config in ("s2t", "s2tw", "s2hk", "s2twp"):
        assert norm(opencc.OpenCC(config).convert(simplified)) == norm(simplified)


def test_width_spaces_punctuation_and_mojibake():
    assert norm("全 国 秋粮已 收穫 6 . 72億畝，完 成51.5 %") == norm("全国秋粮已收获6.72亿亩，完成51.5%")
    assert norm("ＡＢＣ１２３，Hello,  World!") == "abc123hello world"
    assert norm("民兵??预备役") == "民兵预备役"


def test_numbers_keep_their_decimal_points_and_stay_apart():
    assert norm("营收150.33亿元") == "营收150.33亿元"
    assert norm("分别增长12.9%、13.7%，500万元") == "分别增长12.9/13.7/500万元"
    assert norm("增长1.5%和2.3%") != norm("增长15%和23%")
    assert norm("营收１５０．３３億元") == norm("营收150.33亿元")
    assert norm("比分 2 0 1 8 年") == norm("比分2018年")  # spaces sprinkled into a number still go


def test_front_matter_gives_title_and_date_and_html_is_stripped():
    raw = ('---\nlayout: post\ntitle: "招商引资冬季会战"\ndate: 2022-01-04 07:38:28 +0800\n---\n'
           '<p>正文第一段&amp;内容。</p><script>var x = "脚本";</script><nav>导航</nav>\n<p>第二段。</p>')
    result = normalize_text(raw, CONFIG)
    assert result.title == "招商引资冬季会战"
    assert result.date.startswith("2022-01-04")
    assert result.text == "正文第一段内容第二段"


def test_boilerplate_lines_go_but_a_sentence_mentioning_a_source_survives():
    raw = "\n".join([
        "据新华社报道，文章来源于当地政府的通报，该项目已经开工建设并将于年底完成投资。",
        "转自：黑龙江日报",
        "【版权及免责声明】凡本网所属版权作品，转载时须获得授权并注明来源。",
        "责任编辑：张三",
        "京ICP备11041399号-2",
        "http://finews.example.com/a/1.html",
        "[返回首页](//finews.example.com/)",
    ])
    assert norm(raw) == "据新华社报道文章来源于当地政府的通报该项目已经开工建设并将于年底完成投资"


def test_a_link_inside_a_cjk_paragraph_takes_only_its_own_characters():
    """CJK text runs on without a space after a link; the link must not take the rest of the paragraph along."""
    raw = ("考生登录报名平台（https：//gk.example.edu.cn，或通过官网http://www.example.edu.cn右侧导航栏进入）进行网上申报，"
           "首次登录须修改初始密码，遗忘密码的考生可通过登录页面重置。")
    assert norm(raw) == "考生登录报名平台或通过官网右侧导航栏进入进行网上申报首次登录须修改初始密码遗忘密码的考生可通过登录页面重置"


def test_traditional_boilerplate_is_recognised():
    raw = "正文內容在這裏，項目建設順利推進。\n轉自:黑龍江日報\n版權所有:中國產業經濟信息網京ICP備11041399號-2"
    assert norm(raw) == "正文内容在这里项目建设顺利推进"


cjk = st.text(alphabet=st.sampled_from("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能"
                                       "下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两"
                                       "体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数"
                                       "，。、：；！？（）“”《》 0123456789abcXYZ\n.．%-,１２"), max_size=200)


@settings(max_examples=200, deadline=None)
@given(cjk)
def test_normalization_is_idempotent(text):
    once = norm(text)
    assert norm(once) == once


@settings(max_examples=200, deadline=None)
@given(cjk, st.sampled_from(["s2t", "s2tw", "s2hk"]))
def test_a_traditional_conversion_normalizes_like_the_original(text, config):
    assert norm(opencc.OpenCC(config).convert(text)) == norm(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_unicode_input_normalizes_without_error(text):
    assert isinstance(norm(text), str)


@needs_native
@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.text(),  # any code point: letters of every script, digits, marks, symbols, emoji
    st.text(alphabet=st.sampled_from(list("ab Zé_-.,!?  \u3000建設的一(GDP)（扩大）١٢ไทย Ωω ＡＢ１２ ⑴ \ufffd\n\t")), max_size=60),
))
def test_accelerated_and_regex_punctuation_removal_agree(text):
    assert drop_punctuation(text) == drop_punctuation(text, accelerated=False)
