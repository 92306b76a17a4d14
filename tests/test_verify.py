"""The decision rule: reposts are duplicates, template twins about different events are not."""

from __future__ import annotations

import pytest

from dedup.config import DecisionConfig, NormalizationConfig, SignatureConfig
from dedup.normalize import normalize_text
from dedup.shingle import shingle_hashes
from dedup.verify import decide

BODY = ("央视网消息（新闻联播）：十四届全国人大二次会议今天上午在北京人民大会堂开幕。国家主席习近平等党和国家领导人出席大会。"
        "国务院总理李强代表国务院向大会作政府工作报告，回顾过去一年的工作，提出今年经济社会发展的总体要求和主要目标。"
        "会议听取了全国人大常委会工作报告，审议了有关法律草案，代表们认真履职，积极建言献策。")


def verdict(a: str, b: str):
    norm, sig = NormalizationConfig(), SignatureConfig()
    ta, tb = normalize_text(a, norm).text, normalize_text(b, norm).text
    return decide(ta, tb, shingle_hashes(ta, sig), shingle_hashes(tb, sig), DecisionConfig())


@pytest.mark.parametrize("a, b", [
    ("本台明天将直播十四届全国人大二次会议开幕会", "本台明天将直播十四届全国人大三次会议开幕会"),
    ("李强举行仪式欢迎新西兰总理访华", "李强举行仪式欢迎斯洛伐克总理访华"),
    ("《习近平关于城市工作论述摘编》法文版出版发行", "《习近平关于城市工作论述摘编》俄文版出版发行"),
])
def test_template_twins_about_different_events_are_not_duplicates(a, b):
    assert not verdict(a, b).is_duplicate


def test_twin_with_long_shared_body_is_vetoed_by_the_differing_numeral():
    other = BODY.replace("二次会议", "三次会议")
    result = verdict(BODY, other)
    assert result.scores.jaccard > 0.85
    assert not result.is_duplicate
    assert "template twin" in result.reason


FIGURES = ("国家统计局今天发布数据显示，前三季度全国规模以上工业增加值同比增长{a}，其中制造业增长{b}，"
           "高技术制造业的表现尤其突出，增速明显快于全部规模以上工业，显示经济结构持续优化，新动能加快成长。")


def test_a_decimal_point_is_part_of_the_number():
    result = verdict(FIGURES.format(a="1.5%", b="2.3%"), FIGURES.format(a="15%", b="23%"))
    assert not result.is_duplicate
    assert "1.5 / 15" in result.reason


def test_a_repost_with_full_width_figures_still_matches():
    original = FIGURES.format(a="150.33亿元", b="2.3%")
    assert verdict(original, FIGURES.format(a="１５０．３３亿元", b="２．３％")).is_duplicate


def test_cut_tail_and_excerpt_are_duplicates():
    cut = BODY[: len(BODY) // 2]
    result = verdict(BODY, cut)
    assert result.is_duplicate and result.scores.containment > 0.95


def test_repost_with_caption_footer_and_typo_is_duplicate():
    repost = "图为会议现场。\n" + BODY.replace("积极", "积") + "\n（文章来源：人民网）\n版权所有 © 某网站"
    assert verdict(BODY, repost).is_duplicate


def test_rewritten_story_sharing_a_template_is_not_duplicate():
    rewrite = BODY.replace("回顾过去一年的工作", "总结五年来的重大成就和宝贵经验")
    assert not verdict(BODY, rewrite).is_duplicate


LONG = ("新华社北京3月29日电：匈牙利总理欧尔班29日在布达佩斯表示，欧盟应当直接与俄罗斯开展谈判，推动早日实现停火。"
        "他说，冲突已经持续了很长时间，给欧洲经济带来了沉重负担，能源价格上涨，通胀压力加大，企业经营困难。"
        "欧尔班强调，匈牙利将继续主张通过对话解决分歧，并呼吁各方保持克制，为和平进程创造条件。")


@pytest.mark.parametrize("old, new", [
    ("29日在布达佩斯", "32日在布达佩斯"),  # the alignment keeps the shared 2 and sees one-sided edits around it
    ("直接与俄罗斯开展", "直接与斯洛伐克开展"),  # and here the shared 斯
])
def test_a_fact_changed_around_a_shared_character_is_still_a_changed_fact(old, new):
    result = verdict(LONG, LONG.replace(old, new, 1))
    assert result.scores.jaccard > 0.85
    assert not result.is_duplicate and "template twin" in result.reason


def test_a_digit_dropped_by_a_typo_is_not_a_different_fact():
    assert verdict(LONG, LONG.replace("3月29日电", "3月9日电", 1).replace("29日在", "2日在", 1)).is_duplicate


def test_a_name_the_dictionary_does_not_know_replaced_by_one_it_does_is_a_changed_fact():
    story = LONG.replace("他说，", "外交部发言人米锋说，", 1)  # 米锋: not in jieba's dictionary; 王建国 is
    result = verdict(story, story.replace("米锋", "王建国", 1))
    assert not result.is_duplicate and "王建国" in result.reason


def test_a_typo_that_turns_a_time_into_a_common_word_is_still_a_repost():
    story = LONG.replace("29日在布达佩斯表示", "29日凌晨四点半在布达佩斯表示", 1)
    assert verdict(story, story.replace("四点半", "来时半", 1)).is_duplicate


@pytest.mark.parametrize("a, b", [
    (BODY, BODY.replace("二次会议", "三次会议")),
    (LONG, LONG.replace("直接与俄罗斯开展", "直接与斯洛伐克开展")),
    (LONG, LONG[:120]),
    (LONG, LONG.replace("29日在", "2日在", 1)),
])
def test_the_verdict_is_the_same_whichever_text_comes_first(a, b):
    forward, backward = verdict(a, b), verdict(b, a)
    assert forward.is_duplicate == backward.is_duplicate
    assert [(c.a, c.b) for c in forward.conflicts] == [(c.b, c.a) for c in backward.conflicts]


def test_two_typos_around_one_shared_digit_are_still_a_repost():
    # 班 dropped before the 2 of 29 and 王 typed after it: the shape of 29 -> 32, but nothing changed on both sides
    assert verdict(LONG, LONG.replace("欧尔班29日在", "欧尔2王9日在", 1)).is_duplicate
