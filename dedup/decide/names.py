"""Is a substituted passage a name, place, organisation or time on both sides? (jieba's dictionary)

A typo garbles a word into stray characters or a common word; a template twin puts another
proper name or time in the same slot. Direct dictionary lookups screen cheaply; jieba's
segmentation of a small window confirms.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from dedup.decide.alignment import similarity

# jieba part-of-speech tags of facts: times, person/place/organisation/other proper names.
# jieba's HMM stays off: its guesses tag typo-garbled characters as names.
_FACT_TAGS = ("t", "nr", "ns", "nt", "nz")
# Single characters that stand for a country or place (法, 俄, 美, 德).
_ABBREVIATION_TAGS = ("j", "ns")
_CONTEXT = 6
_LONGEST_WORD = 8
# Times that count from the day of writing, or name a period: a repost that makes them absolute (今天 -> 14日),
# counts from its own day (今晚 -> 前晚) or updates a figure to a later day (上半年 -> 9月) reports the same event.
_RELATIVE_TIMES = tuple((
    "今天 今日 今晨 今晚 今夜 今早 昨天 昨日 昨晚 昨夜 前天 前日 前晚 明天 明日 明晚 后天 "
    "当天 当日 当晚 次日 翌日 本周 上周 下周 本月 上月 下月 今年 去年 明年 日前 近日 "
    "上半年 下半年 年初 年底 年末 月初 月底 上旬 中旬 下旬 目前 此前 "
    "稍早 早前 近期"
).split())
_WEEKDAYS = tuple(f"{w}{d}" for w in ("星期", "周", "礼拜") for d in "一二三四五六日天")
# Lines that are not article body: sources, credits, editors, captions, reading links.
_NOT_BODY = re.compile("原标题|来源|选自|转自|转载|编辑|责编|校对|审核|记者|通讯员|摄影|供图|图片|图为|图源|图文|"
                       "资料图|推荐阅读|延伸阅读|相关阅读|相关新闻|作者|出品|微信|公众号")
_MARKER_REACH = 4
# A name's word is generic when it ends in one of these (香港媒体 for 东网: the outlet named by its kind).
_GENERIC_HEADS = ("媒体", "网站", "网友", "人士", "官方", "方面", "消息", "报道", "报纸", "电视台", "机构", "部门")
# Titles before a person's name: a name replaced after one of them is another person.
_TITLES = tuple((
    "主席 委员长 书记 总理 部长 省长 市长 县长 区长 总统 首相 总书记 主任 院长 局长 厅长 "
    "校长 董事长 总裁 总经理 大使 发言人 常委 委员 司令 议长 秘书长 理事长 会长 教授 总监 "
    "队长 主教练 球员 演员 歌手 导演 选手 运动员"
).split())
# Suffixes of organisation, place and edition names: the unit is what precedes the suffix plus the suffix.
_SUFFIXES = tuple((
    "委员会 集团 公司 大学 学院 银行 医院 中心 协会 研究院 研究所 文版 语版 部 局 厅 委 "
    "院 署 办 省 市 县 州 国 岛 镇 村 队"
).split())
_LANGUAGE_SUFFIXES = ("文版", "语版")
# Characters around a substitution given to OpenCC's phrase tables (沙特|阿拉伯 needs the 阿拉伯).
_SPELLING_CONTEXT = 4
_NAME_CHARS = re.compile(r"[\u4e00-\u9fff]{2,4}")


@lru_cache(maxsize=1)
def _word_tags() -> dict[str, str]:
    """jieba's dictionary: word -> part-of-speech tag (loaded once, ~1 s), the table `jieba.posseg` builds.

    Read here from the dictionary's `word frequency tag` lines in one split: importing jieba.posseg parses the
    file line by line (~0.5 s of every process's start)."""
    import jieba

    jieba.setLogLevel(60)
    with jieba.dt.get_dict_file() as dictionary:
        text = dictionary.read().decode("utf-8")
    fields = text.split()
    lines = text.count("\n") + (not text.endswith("\n"))
    if len(fields) == 3 * lines and all(map(str.isdigit, fields[1::3])):
        return dict(zip(fields[0::3], fields[2::3]))  # every line: word, frequency, tag
    tags = {}
    for line in text.splitlines():  # jieba.posseg's own reading, for a dictionary with other lines
        if line.strip():
            word, _, tag = line.strip().split(" ")
            tags[word] = tag
    return tags


def warm_up() -> None:
    """Load jieba's dictionaries now, not inside the first request (about a second): the word tags, and the prefix
    dictionary its segmentation reads (which jieba otherwise loads at the first cut)."""
    import jieba

    _word_tags()
    jieba.initialize()


def _longest_word_over(text: str, start: int, end: int) -> str:
    """The longest dictionary word of two or more characters that covers text[start:end] ('' if none).

    A direct dictionary lookup: segmenting a window with jieba costs a hundred times more and, on
    the words that matter here (names, places, times), picks the same word.
    """
    reach = min(end - start + 2 * _CONTEXT, _LONGEST_WORD)
    lo = max(0, end - reach)
    return _longest_word_in(text[lo:start + reach], start - lo, end - lo)


@lru_cache(maxsize=65_536)
def _longest_word_in(text: str, start: int, end: int) -> str:
    """Cached on the window a word over the span can reach: names_differ asks twice per side, and an
    original's windows recur in its comparisons with every repost."""
    tags = _word_tags()
    span = end - start
    for length in range(min(span + 2 * _CONTEXT, _LONGEST_WORD), max(2, span) - 1, -1):
        for begin in range(max(0, end - length), min(start, len(text) - length) + 1):
            word = text[begin:begin + length]
            if word in tags:
                return word
    return ""


def _is_fact_over(text: str, start: int, end: int) -> bool:
    return _word_tags().get(_longest_word_over(text, start, end), "").startswith(_FACT_TAGS)


def _words_over(text: str, start: int, end: int) -> tuple[tuple[str, str], ...]:
    """Dictionary words (with tags) overlapping text[start:end], segmented in a small window around it."""
    lo = max(0, start - _CONTEXT)
    return _window_words(text[lo:end + _CONTEXT], start - lo, end - lo)


@lru_cache(maxsize=65_536)
def _window_words(window: str, start: int, end: int) -> tuple[tuple[str, str], ...]:
    """Cached: an original's windows recur in its comparisons with every repost."""
    import jieba

    tags = _word_tags()
    words: list[tuple[str, str]] = []
    pos = 0
    for word in jieba.dt.cut(window, HMM=False):
        w_start, pos = pos, pos + len(word)
        if w_start < end and pos > start:
            words.append((word, tags.get(word, "x")))
    return tuple(words)


def _segmented_as_facts(text: str, start: int, end: int) -> bool:
    """Segmentation puts whole dictionary words (not stray characters) over the span, one a fact word."""
    words = _words_over(text, start, end)
    return bool(words) and all(len(w) >= 2 for w, _ in words) and any(t.startswith(_FACT_TAGS) for _, t in words)


def is_relative_time(text: str, start: int, end: int, words: tuple[str, ...] = _RELATIVE_TIMES) -> str:
    """The relative time word (今天, 昨日, 当日凌晨...) that overlaps text[start:end] ('' if none)."""
    window = text[max(0, start - 2):end + 2]
    if not _any_of(words).search(window):
        return ""  # most windows hold none of the words: one regex scan instead of a find per word
    offset = max(0, start - 2)
    for word in words:
        at = window.find(word)
        while at >= 0:
            if offset + at < end and offset + at + len(word) > start:
                return word
            at = window.find(word, at + 1)
    return ""


@lru_cache(maxsize=8)
def _any_of(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, words)))


def weekday(text: str, start: int, end: int) -> str:
    """The weekday (周三, 星期三) over text[start:end] ('' if none)."""
    return is_relative_time(text, start, end, _WEEKDAYS)


def not_body(text: str, start: int, end: int) -> bool:
    """The stretch holds, or directly follows, a source, credit, editor, caption or reading-link marker (记者|李明,
    not 记者来到|北京)."""
    return any(m.end() >= start for m in _NOT_BODY.finditer(text, max(0, start - _MARKER_REACH), end))


def _generic(word: str) -> bool:
    return word.endswith(_GENERIC_HEADS)


@lru_cache(maxsize=4)
def _converter(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def spelling_variants(a: str, b: str) -> bool:
    """The same name in another region's spelling (圭亚那 / 蓋亞那, 沙特阿拉伯 / 沙烏地阿拉伯): OpenCC's regional
    phrase tables map both to one form."""
    if a == b:
        return True
    return any(_converted(config, a) == _converted(config, b) for config in ("s2twp", "tw2sp"))


@lru_cache(maxsize=16_384)
def _converted(config: str, text: str) -> str:
    """Cached: the stored side's windows recur in its comparisons with every repost."""
    return str(_converter(config).convert(text))


def respelled(a: str, i1: int, i2: int, b: str, j1: int, j2: int) -> bool:
    """The two sides, with a few characters around them, are one name in two regions' spellings."""
    return spelling_variants(a[max(0, i1 - _SPELLING_CONTEXT):i2 + _SPELLING_CONTEXT],
                             b[max(0, j1 - _SPELLING_CONTEXT):j2 + _SPELLING_CONTEXT])


def _suffix_after(text: str, start: int, end: int) -> str:
    """The name suffix (部, 市, 国, 公司...) right after text[start:end], unless it opens a longer word there: in
    明确|国家级 or 推动|市场 the 国 or 市 begins the next word (国家级, 市场), it is no suffix of a name."""
    suffix = next((s for s in _SUFFIXES if text.startswith(s, end)), "")
    return "" if suffix and _opens_word(text, start, end, len(suffix)) else suffix


def _opens_word(text: str, start: int, at: int, size: int) -> bool:
    """Whether, segmenting text from `start` on, a word longer than `size` begins at `at`."""
    pos = start
    for word, _tag in _segment(text[start:at + size + _CONTEXT]):
        if pos == at:
            return len(word) > size
        pos += len(word)
        if pos > at:
            return False
    return False


def _tagged_name(word: str) -> bool:
    return _word_tags().get(word, "").startswith(("nr", "ns", "nt", "nz"))


def unit_conflict(a: str, i1: int, i2: int, b: str, j1: int, j2: int) -> str:
    """A whole name replaced by another, judged as a unit ('' if not): an organisation, place or edition
    (the replaced words plus the shared suffix after them: 生态环境部 / 商务部, 阿拉伯文版 / 日文版, 法国 /
    德国), or a person named after the same title (副主席石泰峰 / 副主席铁凝)."""
    side_a, side_b = a[i1:i2], b[j1:j2]
    if set(side_a) & set(side_b):
        return ""  # a shared character: a typo or a variant, left to the edit-level rules
    suffix = _suffix_after(a, i1, i2)
    if suffix and _suffix_after(b, j1, j2) == suffix:
        unit_a, unit_b = side_a + suffix, side_b + suffix
        if suffix in _LANGUAGE_SUFFIXES:
            return "edition"
        if (len(side_a) >= 2 and len(side_b) >= 2) or (_tagged_name(unit_a) and _tagged_name(unit_b)):
            if not _generic(unit_a) and not _generic(unit_b):
                return "organisation" if suffix not in ("省", "市", "县", "州", "国", "岛", "镇", "村") else "place"
    if a.endswith(_TITLES, 0, i1) and b.endswith(_TITLES, 0, j1):
        if _NAME_CHARS.fullmatch(side_a) and _NAME_CHARS.fullmatch(side_b) and similarity(side_a, side_b) == 0:
            return "person"
    return ""


_PROPER = ("nr", "ns", "nt")


def proper_names(text: str, start: int, end: int) -> dict[str, set[str]]:
    """Dictionary person, place and organisation names lying wholly inside text[start:end], by kind."""
    lo = max(0, start - _CONTEXT)
    found: dict[str, set[str]] = {}
    pos = lo
    for word, tag in _segment(text[lo:end + _CONTEXT]):
        w_start, pos = pos, pos + len(word)
        if w_start >= start and pos <= end and len(word) >= 2 and tag.startswith(_PROPER) and not _generic(word):
            found.setdefault(tag[:2], set()).add(word)
    return found


@lru_cache(maxsize=65_536)
def _segment(window: str) -> tuple[tuple[str, str], ...]:
    import jieba

    tags = _word_tags()
    return tuple((word, tags.get(word, "x")) for word in jieba.dt.cut(window, HMM=False))


def names_replaced(a: str, i1: int, i2: int, b: str, j1: int, j2: int) -> tuple[str, str] | None:
    """A name of one kind on each side that the other side does not have (印度 / 英国 in a rewritten clause)."""
    names_a, names_b = proper_names(a, i1, i2), proper_names(b, j1, j2)
    all_a = set().union(*names_a.values()) if names_a else set()
    all_b = set().union(*names_b.values()) if names_b else set()
    for kind in names_a.keys() & names_b.keys():
        only_a, only_b = names_a[kind] - all_b, names_b[kind] - all_a
        for x in sorted(only_a):
            for y in sorted(only_b):
                if not spelling_variants(x, y) and x not in b[j1:j2] and y not in a[i1:i2]:
                    return x, y
    return None


def inserted_name(text: str, start: int, end: int) -> str:
    """Whole person names inserted between two person names (one more name in a list of names): '' if not.

    Typos insert characters, not whole dictionary names; a name added elsewhere (a caption's, a player's
    first name) may be a repost's edit, a name added to a list of attendees is another event's list."""
    pos = max(0, start - _CONTEXT)
    names: list[str] = []
    before = after = False
    for word, tag in _segment(text[max(0, start - _CONTEXT):end + _CONTEXT]):
        w_start, pos = pos, pos + len(word)
        is_name = tag.startswith("nr") and len(word) >= 2
        before = is_name if pos == start else before
        after = is_name if w_start == end else after
        if w_start < end and pos > start:
            if w_start < start or pos > end or not is_name:
                return ""  # the insertion cuts a word, or is not only names
            names.append(word)
    return names[0] if names and before and after else ""


def names_differ(a: str, i1: int, i2: int, b: str, j1: int, j2: int, *, known_on_both_sides: bool = False) -> bool:
    """The words over the substitution are names, places, organisations or times on both sides.

    A typo garbles a word into characters or a common word, so it does not yield fact words on both
    sides. A single substituted abbreviation (法/俄 in 法文版/俄文版) counts too. Dictionary lookups
    screen first; jieba's segmentation, a hundred times dearer, confirms what they let through.
    `known_on_both_sides` turns off the one case that accepts a word the dictionary lacks.
    """
    if _generic(_longest_word_over(a, i1, i2)) or _generic(_longest_word_over(b, j1, j2)):
        return False
    if i2 - i1 == 1 and j2 - j1 == 1:
        tags = _word_tags()
        if tags.get(a[i1], "") in _ABBREVIATION_TAGS and tags.get(b[j1], "") in _ABBREVIATION_TAGS:
            return True
    fact_a, fact_b = _is_fact_over(a, i1, i2), _is_fact_over(b, j1, j2)
    if fact_a and fact_b:
        return _segmented_as_facts(a, i1, i2) and _segmented_as_facts(b, j1, j2)
    # A whole word replaced by another: one side a name the dictionary knows, the other a word it does not
    # know at all (a name like 米锋 for 王建国). Both spans must be two characters or more (a typo changes
    # one), and a known common word on the other side (来时 for 四点) reads as a typo, not as a name.
    if fact_a != fact_b and not known_on_both_sides and i2 - i1 >= 2 and j2 - j1 >= 2:
        unknown = b[j1:j2] if fact_a else a[i1:i2]
        if unknown not in _word_tags():
            return _segmented_as_facts(a, i1, i2) if fact_a else _segmented_as_facts(b, j1, j2)
    return False
