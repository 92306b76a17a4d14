"""The decision rule: reposts are duplicates, template twins about different events are not."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedup.config import DecisionConfig, NormalizationConfig, SignatureConfig
from dedup.decide.verify import decide
from dedup.sketch.shingle import shingle_hashes
from dedup.text.normalize import normalize_text

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


# Made-up story of six paragraphs: reposts below move, caption, re-date and respell it; twins change one fact.
PARAS = [
    "本市今天上午举行新闻发布会，市交通委员会介绍了今年冬季公交线网优化的总体安排。",
    "据介绍，全市将新开公交线路十二条，调整线路二十八条，撤销重复线路五条，方便市民换乘地铁。",
    "发布会上，相关负责人表示，线网优化坚持问需于民，前期共收集市民意见建议三千余条。",
    "下一步，交通部门将加强运营监测，根据客流变化及时调整发车间隔，确保高峰时段运力充足。",
    "此外，部分郊区线路将延长末班车时间，满足夜间出行需求，具体信息可通过官方客户端查询。",
    "市民如对调整方案有意见，可在本月底前通过热线电话反映，相关部门将及时研究答复。",
]
STORY = "\n".join(PARAS)


def _both_ways(a: str, b: str) -> bool:
    forward, backward = verdict(a, b), verdict(b, a)
    assert forward.is_duplicate == backward.is_duplicate
    return forward.is_duplicate


@pytest.mark.parametrize("order, headline", [
    ((0, 2, 1, 4, 3, 5), "冬季公交线网优化方案公布\n"),
    ((1, 0, 3, 2, 5, 4), ""),
])
def test_reordered_paragraphs_and_a_new_headline_are_a_repost(order, headline):
    assert _both_ways(STORY, headline + "\n".join(PARAS[k] for k in order))


@pytest.mark.parametrize("old, a, b", [
    ("本月底前", "11月5日前", "11月5目前"),  # 日 scanned as 目
    ("今年冬季", "2018年冬季", "2〇18年冬季"),  # 〇 for 0
])
def test_look_alike_characters_are_noise_not_facts(old, a, b):
    assert _both_ways(STORY.replace(old, a), STORY.replace(old, b))


@pytest.mark.parametrize("written, reposted", [
    ("今天", "14日"), ("昨天下午", "13日下午"), ("今日凌晨", "当日凌晨"), ("当天", "11月5日"), ("周三", "11月14日"),
])
def test_a_relative_date_made_absolute_is_the_same_date(written, reposted):
    def dated(when: str) -> str:
        return STORY.replace("交通部门将加强运营监测", f"交通部门将于{when}起加强运营监测")

    assert _both_ways(dated(written), dated(reposted))


def test_captions_in_the_same_place_are_not_facts():
    a = STORY.replace(PARAS[2], "图为发布会现场。\n" + PARAS[2])
    b = STORY.replace(PARAS[2], "市民在公交站台候车。\n" + PARAS[2])
    assert _both_ways(a, b)


def test_an_outlet_named_by_its_kind_is_the_same_source():
    assert _both_ways(STORY.replace("据介绍", "据东网报道"), STORY.replace("据介绍", "据香港媒体报道"))


def test_a_number_in_chinese_numerals_and_in_digits_is_one_number():
    assert _both_ways(STORY.replace("撤销重复线路五条", "撤销重复线路5条"), STORY)


@pytest.mark.parametrize("a, b", [
    ("副主席石泰峰表示", "副主席铁凝表示"),  # neither name in jieba's dictionary
    ("生态环境部负责人表示", "商务部负责人表示"),  # 生态环境 / 商务 alone are not names: the unit with 部 is
    ("住房城乡建设部负责人表示", "住房城乡外交部负责人表示"),
])
def test_a_whole_name_replaced_by_another_is_a_different_fact(a, b):
    assert not _both_ways(STORY.replace("相关负责人表示", a), STORY.replace("相关负责人表示", b))


@pytest.mark.parametrize("a, b", [
    ("相关负责人还明确，国家级", "相关负责人表示，国家级"),  # 国 opens 国家级: no 明确国 / 表示国
    ("相关负责人要求推动市场", "相关负责人要求稳定市场"),  # 市 opens 市场: no 推动市 / 稳定市
])
def test_a_word_before_a_word_that_opens_with_a_name_suffix_is_no_name(a, b):
    """A reporting verb reworded right before 国家 or 市场 is an editor's touch, not a place replaced."""
    assert _both_ways(STORY.replace("相关负责人表示，", a), STORY.replace("相关负责人表示，", b))


@pytest.mark.parametrize("taiwan, mainland", [("蓋亞那", "圭亚那"), ("沙烏地阿拉伯", "沙特阿拉伯"), ("紐西蘭", "新西兰")])
def test_one_country_in_taiwan_spelling_is_the_same_country(taiwan, mainland):
    a = STORY.replace("相关负责人表示", f"我国驻{taiwan}大使表示")
    assert _both_ways(a, STORY.replace("相关负责人表示", f"我国驻{mainland}大使表示"))


def test_a_country_replaced_by_another_is_a_different_fact():
    a = STORY.replace("相关负责人表示", "我国驻圭亚那大使表示")
    assert not _both_ways(a, STORY.replace("相关负责人表示", "我国驻苏里南大使表示"))


def test_editions_in_different_languages_are_different_books():
    body = PARAS[1] + PARAS[2]
    assert not _both_ways("《城市公交发展报告》阿拉伯文版近日出版发行。" + body, "《城市公交发展报告》日文版近日出版发行。" + body)


def test_a_tail_cut_item_of_another_year_is_not_a_repost():
    lead = "外交部发言人今天宣布：应国务院总理邀请，某某共和国政府总理、执政党中央委员会政治局委员某某某"
    later = lead + "将于6月2日至6日对我国进行正式访问。访问期间，两国总理将举行会谈，双方将签署经贸、农业和教育等领域的多项合作文件。"
    result = verdict(lead + "将于11月29日至", later)
    assert not result.is_duplicate and "11月" in result.reason


EN = ("The central bank raised its key interest rate by a quarter point on Thursday, citing stubborn inflation and a "
      "tight labour market. Policymakers said further tightening may be needed if price pressures do not ease in the "
      "coming months. Economists had widely expected the move after last month's strong jobs report.")


@pytest.mark.parametrize("twin", [
    EN.replace("Thursday", "Tuesday"),
    EN.replace("The central bank", "The Reserve Bank of Australia").replace("Thursday", "Friday"),
])
def test_english_template_twins_are_compared_word_by_word(twin):
    result = verdict(EN, twin)
    assert not result.is_duplicate and "day" in result.reason


def test_an_english_repost_with_its_sentences_reordered_is_a_repost():
    assert _both_ways(EN, "Rates rise again\n" + " ".join(reversed(EN.split(". "))))


RULES = ["考生应在开考前三十分钟凭准考证和身份证进入考场并对号入座", "考生只准携带黑色签字笔、铅笔和橡皮等必需的文具入场",
         "开考十五分钟后考生不得入场，考试结束前三十分钟内不得交卷退场", "考生在答题前应认真填写姓名和准考证号并仔细核对条形码信息",
         "考生必须在答题卡规定区域内作答，超出区域书写的答案无效", "考试结束信号发出后考生应立即停止答题并将试卷答题卡翻放在桌面上",
         "考生应自觉服从监考人员管理，不得以任何理由妨碍监考人员履行职责", "考生违反考试纪律的将按照有关规定严肃处理并记入诚信档案"]


def test_an_excerpt_that_renumbers_the_items_of_a_list_is_a_repost():
    full = "本次考试考场规则如下：" + "".join(f"{k}.{rule}。" for k, rule in enumerate(RULES, 1))
    excerpt = "考场规则摘录：" + "".join(f"{k}.{rule}。" for k, rule in enumerate(RULES[3:], 1))
    assert _both_ways(full, excerpt)


def test_one_more_name_in_a_list_of_attendees_is_another_meeting():
    names = "胡锦涛、温家宝、贾庆林、李长春、吴官正、罗干、李瑞环"
    a = f"春节前夕，有关方面负责同志看望了{names}等老同志，向他们致以节日的问候和美好的祝福。老同志们对党和国家事业发展取得的成就表示高兴。"
    b = a.replace("贾庆林、", "贾庆林、吴邦国、")
    assert not _both_ways(a, b)


def test_explain_shows_a_moved_paragraph_as_shared_and_a_changed_word_inside_its_passage():
    from dedup.decide.explain import passages

    norm = NormalizationConfig()
    a = normalize_text(STORY.replace("市交通委员会", "市商务委员会"), norm).text
    b = normalize_text("\n".join(PARAS[k] for k in (1, 0, 2, 3, 4, 5)), norm).text
    shared, differing = passages(a, b)
    moved = normalize_text(PARAS[1], norm).text
    assert any(moved in p.a and moved in p.b for p in shared)
    assert [(p.a, p.b) for p in differing if p.kind == "changed"] == [("商务", "交通")]


def test_a_paragraph_cut_and_a_context_paragraph_added_in_its_place_are_not_differing_facts():
    context = "去年，全市共开通公交线路三十条，日均客运量达到四百万人次，市民出行满意度连续三年提升。"
    assert _both_ways(STORY, "\n".join([PARAS[0], context, *PARAS[2:]]))


def test_a_decimal_point_is_part_of_the_number_in_the_guard():
    from dedup.decide.twins import fact_conflicts

    # normalized texts that keep decimal points, as normalization does for 150.33亿元
    text = "国家统计局今天发布数据显示前三季度全国规模以上工业增加值同比增长{}其中制造业增长{}高技术制造业增长明显快于全部工业"
    assert fact_conflicts(text.format("1.5%", "2.3%"), text.format("15%", "23%"))
    assert not fact_conflicts(text.format("1.5%", "2.3%"), text.format("1.5%", "2.3%"))


def test_a_gallery_copy_with_slide_counters_is_the_article_it_copies():
    """A photo-gallery copy puts 1/N, 2/N... before each caption; on a short item the counters alone would
    drop the pair under both thresholds."""
    captions = ["新馆今天正式开馆。", "首日接待读者三千余人。", "新馆设有少儿阅读区。", "古籍修复室全天开放。", "下月起推出夜间借阅。"]
    article = "本报讯，市图书馆新馆位于滨江新区，总投资约五亿元。" + "".join(captions)
    gallery = "".join(f"{k}/{len(captions)}{caption}" for k, caption in enumerate(captions, 1))
    assert _both_ways(article, gallery)


def test_a_few_clauses_reworded_in_an_edited_long_text_are_an_editors_pass():
    """An interview re-edited throughout (a word changed in every paragraph) with two clauses reworded to other
    lengths is the same interview; the same two rewordings alone would be a template filled anew."""
    roles = ["导演", "制片人", "编剧", "主持人", "评委", "嘉宾", "观众", "摄影师", "灯光师", "舞美", "化妆师", "乐队",
             "合唱团", "剪辑师", "策划", "统筹", "场记", "道具组"]
    topics = ["谈到节目筹备的过程", "回忆第一次排练的情形", "说起舞台搭建的细节", "讲述录制当天的花絮", "分享幕后准备的经历",
              "介绍乐器选择的考虑"]
    lines = [f"{role}{topics[i % 6]}时说，这一季的第{i + 1}期节目花了很多心思。" for i, role in enumerate(roles)]
    edited = [line.replace("时说", "时表示", 1) if i % 2 else line.replace("节目", "演出", 1) for i, line in enumerate(lines)]
    for i, clause in ((4, "倾注了全组人的精力"), (11, "让大伙熬过好几个通宵")):
        edited[i] = edited[i].replace("花了很多心思", clause, 1)
    assert _both_ways("".join(lines), "".join(edited))
    template = list(lines)
    for i, clause in ((4, "倾注了全组人的精力"), (11, "让大伙熬过好几个通宵")):
        template[i] = template[i].replace("花了很多心思", clause, 1)
    assert not _both_ways("".join(lines), "".join(template))


def test_a_long_text_condensed_throughout_with_two_clauses_reworded_is_an_editors_pass():
    """A repost that keeps the opening of a long interview and then cuts sentences all through the rest (so it
    spreads over much more of the original than its own length), touching a word in each, and rewords two
    clauses is the same interview: its matched passages are compared over the whole span it covers, not over a
    window of its own length that drops the edits of its second half."""
    pool = ("春夏秋冬山水田林风雨雷电江河湖海花草树木鸟兽虫鱼金木水火土日月星辰东西南北前后左右红橙黄绿青蓝紫"
            "琴棋书画诗酒茶米油盐酱醋甜酸苦辣咸桌椅门窗灯墙砖瓦车船桥路村镇城乡")
    rng = random.Random(7)
    lines = ["，".join("".join(rng.sample(pool, 16)) for _ in range(4)) + "。" for _ in range(40)]
    # The opening kept whole, then every third sentence with a word added: most edits sit in the second half.
    condensed = [line if i < 10 else line[:8] + "也" + line[8:] for i, line in enumerate(lines) if i < 10 or i % 3 == 0]
    for i, clause in ((3, "这一段大家都很满意"), (8, "当时谁也没有想到后来会这样")):
        condensed[i] = condensed[i].rsplit("，", 1)[0] + "，" + clause + "。"
    result = verdict("".join(lines), "".join(condensed))
    assert result.scores.jaccard < 0.5 and result.scores.containment >= DecisionConfig().containment
    assert _both_ways("".join(lines), "".join(condensed))


@given(st.lists(st.integers(0, 60), max_size=80), st.lists(st.integers(0, 60), max_size=80), st.booleans())
def test_exact_scores_count_the_shared_hashes_as_numpy_does(a, b, sort_them):
    """The compiled count walks two sorted sets; a set that is not sorted is counted by numpy, with the same
    scores either way."""
    import numpy as np

    from dedup.decide import verify

    x = np.unique(np.array(a, dtype=np.uint32)) if sort_them else np.array(list(dict.fromkeys(a)), dtype=np.uint32)
    y = np.unique(np.array(b, dtype=np.uint32))
    shared = len(set(x.tolist()) & set(y.tolist()))
    scores = verify.exact_scores(x, y)
    assert (scores.shared, scores.size_a, scores.size_b) == (shared if len(x) and len(y) else 0, len(x), len(y))
    if verify._shared_count is not None and len(x) > 1 and sort_them:
        assert verify._shared_count(x, y) == shared


@given(st.lists(st.sampled_from([0, 1]), max_size=80), st.integers(1, 9))
def test_free_stretches_are_the_runs_the_regex_finds(flags, k):
    """The twin guard tiles what the alignment left over: the stretches of at least k untiled units, found by byte
    search, are the runs the regex `\\x00{k,}` finds."""
    import re

    from dedup.decide.alignment import _free_runs

    used = bytearray(flags)
    assert _free_runs(used, k) == [m.span() for m in re.finditer(b"\\x00{%d,}" % k, used)]


_UNITS = st.text(alphabet=st.sampled_from("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过"),
                 max_size=60)


@given(_UNITS, _UNITS, st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=0,
                               max_size=400), _UNITS, _UNITS)
def test_copies_that_differ_at_both_ends_align_as_one_lcs(head_a, head_b, core, tail_a, tail_b):
    """A header added to one copy and a footer to another: the twin guard's alignment, split at a passage the two
    hold once, is still a longest common subsequence of the two texts, made of equal blocks in order."""
    from rapidfuzz.distance import LCSseq

    from dedup.decide.alignment import equal_blocks

    a, b = head_a + core + tail_a, head_b + core + tail_b
    blocks = equal_blocks(a, b)
    assert all(n > 0 and a[i:i + n] == b[j:j + n] for i, j, n in blocks)
    assert all(i1 + n1 <= i2 and j1 + n1 <= j2 for (i1, j1, n1), (i2, j2, _) in zip(blocks, blocks[1:]))
    assert sum(n for _, _, n in blocks) == LCSseq.similarity(a, b)


def test_a_header_and_a_footer_copy_align_like_the_whole_text_alignment():
    from rapidfuzz.distance import Indel

    from dedup.decide.alignment import _shared_once, equal_blocks

    core = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(600))
    a, b = "本报讯记者报道" + core, core + "责任编辑张三"
    assert _shared_once(a, b) is not None  # the split path runs
    whole = [(op.src_start, op.dest_start, op.src_end - op.src_start) for op in Indel.opcodes(a, b) if op.tag == "equal"]
    assert equal_blocks(a, b) == whole == [(7, 0, 600)]
