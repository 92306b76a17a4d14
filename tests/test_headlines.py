"""Headlines carry facts: a successive update or the next draw that keeps its body and states its news in the
headline is another event, while a repost's reworded headline (same facts) still joins its story."""

from __future__ import annotations

import pytest

from dedup.decide.headlines import headline_conflicts
from dedup.decide.verify import decide
from dedup.models import ArticleIn

# A results item built on one template: each draw keeps the body (a sentence cut here or there) and puts the
# draw's own figures in the headline.
_BODY = ("本期足球彩票胜负游戏开奖结果揭晓，焦点战中主队在主场被客队逼平，赛前被普遍看好的几支强队均未能取胜，"
         "多场比赛出现冷门赛果，让不少彩民的投注方案落空。\n"
         "据中心统计，本期全国销量与上期基本持平，各地彩民对周末联赛的关注度依然很高，"
         "多家投注站反映周末的购彩人数明显增加，不少彩民选择了复式投注以分散风险。\n"
         "本期奖池余额将滚入下期，中心提醒广大彩民理性购彩，量力而行，切勿盲目追号，"
         "并请中奖彩民在规定期限内到指定地点兑奖，逾期未兑视为弃奖。")
_CUT = _BODY.replace("多家投注站反映周末的购彩人数明显增加，不少彩民选择了复式投注以分散风险。", "")


@pytest.mark.parametrize(("a", "b"), [
    ("周六足彩头奖开出6注 单注奖金240万", "周六足彩头奖开出1396注 单注奖金1万"),
    ("市人大常委会召开第二十次会议", "市人大常委会召开第二十一次会议_新浪网"),
    ("彩票开奖公告 第2018131期", "彩票开奖公告 第2018132期 | 彩票频道"),
    ("Three killed in storm", "Five killed in storm"),
])
def test_headlines_stating_different_figures_of_one_kind_conflict(a, b):
    assert headline_conflicts(a, b)


@pytest.mark.parametrize(("a", "b"), [
    ("10月22日起进校参观要预约", "今日起进校参观要预约 人数有限制"),          # a relative date is no conflict
    ("报名11月1日开始", "报名将于11月1日至4日进行"),                   # a value in common
    ("今天又面临一次转型", "第四次工业革命"),                           # a count and an ordinal: two kinds
    ("睡觉流口水5大原因", "睡觉流口水是什么原因"),                       # stated on one side only
    ("拜仁主场爆冷平", None),                                           # no headline
])
def test_reworded_headlines_without_a_changed_figure_do_not_conflict(a, b):
    assert not headline_conflicts(a, b)


def test_headlines_picking_different_figures_both_bodies_state_do_not_conflict():
    """A retitled repost leads with another figure of the same story: no conflict while each article states
    the other's headline figure too."""
    body = "未来三天全市气温将下降八到十度，最低气温降至零下五度，并伴有六级左右偏北大风。"
    titles = ("寒潮来袭 气温将降八到十度", "强冷空气来袭 全市最低气温零下五度")
    assert headline_conflicts(*titles)
    assert not headline_conflicts(*titles, body, body)
    assert headline_conflicts(*titles, body, body.replace("八到十度", "八到九度"))


def test_alike_bodies_under_headlines_of_different_draws_are_two_events(engine):
    sh = [engine.prepare(t).shingles for t in (_BODY, _CUT)]
    assert decide(_BODY, _CUT, *sh, engine.decision).is_duplicate  # the body alone is a repost's
    verdict = decide(_BODY, _CUT, *sh, engine.decision,
                     titles=("周六足彩头奖开出6注 单注奖金240万", "周六足彩头奖开出1396注 单注奖金1万"))
    assert not verdict.is_duplicate and "headline" in verdict.reason


@pytest.mark.parametrize("recluster", [False, True])
def test_the_next_draw_on_the_same_body_founds_its_own_story_but_a_retitled_repost_joins(engine, settings,
                                                                                         recluster):
    from dedup.recluster.run import run_recluster

    first = engine.ingest(ArticleIn(url="https://a.example/draw-131", text=_BODY,
                                    title="周六足彩第18131期头奖开出6注 单注奖金240万"))
    repost = engine.ingest(ArticleIn(url="https://b.example/draw-131", text=_BODY,
                                     title="足彩18131期：头奖6注 每注240万元_新浪网"))
    following = engine.ingest(ArticleIn(url="https://a.example/draw-132", text=_CUT,
                                        title="周六足彩第18132期头奖开出1396注 单注奖金1万"))
    if recluster:
        run_recluster(engine, settings)
    cluster = {r.id: engine.get_article(r.id).cluster_id for r in (first, repost, following)}
    assert cluster[repost.id] == cluster[first.id]
    assert cluster[following.id] != cluster[first.id]
    if not recluster:
        assert not following.is_duplicate


def test_the_word_tags_are_jiebas_part_of_speech_table():
    """Names and times are recognised by jieba's tags: the table read at start is the one jieba.posseg builds."""
    import jieba.posseg

    from dedup.decide.names import _word_tags

    assert _word_tags() == jieba.posseg.dt.word_tag_tab
