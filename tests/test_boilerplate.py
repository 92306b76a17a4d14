"""Page furniture stripped from raw text before normalization."""

from dedup.text.boilerplate import strip_slide_counters


def test_slide_counters_go_but_scores_and_fractions_stay():
    assert strip_slide_counters("1/3开馆了。2/3读者很多。3/3明天见。").split() == ["开馆了。", "读者很多。", "明天见。"]
    kept = "湖人116/109胜太阳，1/4决赛在即，客队2/1领先。"
    assert strip_slide_counters(kept) == kept
