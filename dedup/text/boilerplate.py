"""Lines and spans that sites add around a story: notices, source lines, bylines, share links.

Patterns run on the raw text (folding every character first would cost more than
the rest of the pipeline), so they are written in simplified script and widened by
`_any_script` to match traditional, Taiwan and Hong Kong forms and full-width
punctuation. Line patterns are anchored and length-bounded: a sentence of the story
that merely mentions a source (据新华社报道, 来源于...) is longer or does not start
with the label, and survives.
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

_WIDE = {":": ":：︰", "(": "(（", ")": ")）", "[": "[［", "]": "]］", "/": "/／", "!": "!！", "?": "?？", "<": "<＜"}


@lru_cache(maxsize=1)
def _converters() -> tuple[opencc.OpenCC, ...]:
    return tuple(opencc.OpenCC(c) for c in ("s2t", "s2tw", "s2hk"))


def _forms(ch: str) -> set[str]:
    """A CJK character and its one-character traditional, Taiwan and Hong Kong forms; any other character alone."""
    forms = {ch, *(conv.convert(ch) for conv in _converters())} if "\u4e00" <= ch <= "\u9fff" else {ch}
    return {f for f in forms if len(f) == 1}


def _any_script(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile a simplified-script pattern so each CJK literal also matches its traditional forms.

    Characters inside [...] classes and escapes are left alone except the punctuation listed in _WIDE.
    """
    out: list[str] = []
    in_class = escaped = False
    for ch in pattern:
        if escaped:
            out.append(ch)
            escaped = False
            continue
        if ch == "\\":
            out.append(ch)
            escaped = True
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            continue
        if ch == "]" and in_class:
            in_class = False
            out.append(ch)
            continue
        forms = _forms(ch)
        if in_class:
            out.append("".join(sorted(forms | set(_WIDE.get(ch, "")))).replace("]", "\\]"))
        elif ch in ":/" and not (out and out[-1] == "?"):
            out.append("[" + _WIDE[ch] + "]")
        elif len(forms) > 1:
            out.append("[" + "".join(sorted(forms)) + "]")
        else:
            out.append(ch)
    return re.compile("".join(out), flags)

_LABEL = r"[\[(【〔<]?\s*"
# A label line: "来源: 新华社", "责任编辑: 张三". The label must be followed by a colon.
_SOURCE_LABELS = ("转自", "转载自", "转载", "来源", "文章来源", "稿件来源", "新闻来源", "信息来源", "消息来源",
                  "图片来源", "原标题", "责任编辑", "责编", "编辑", "实习编辑", "校对", "审核", "审校", "监制", "出品",
                  "作者", "撰文", "摄影", "视频", "图文")
_SOURCE_LINE = _any_script(_LABEL + "(?:" + "|".join(_SOURCE_LABELS) + r")\s*[:︰].{0,60}$")
_NOTICE = _any_script(
    r"版权所有|版权声明|免责声明|版权及免责|版权归.{0,20}所有|all rights reserved|copyright|©|"
    r"未经.{0,12}(?:授权|许可).{0,12}(?:转载|使用)|转载.{0,20}(?:须|需|请).{0,12}(?:授权|注明)|"
    r"违者.{0,20}追究|icp备|icp证|公网安备|网络文化经营许可证|举报电话|违法和不良信息举报",
    re.I,
)
# A character every notice contains (first characters of _NOTICE's alternatives): a cheap screen.
_NOTICE_TRIGGER = _any_script(r"[版未转违公网举©aAcCiI]")
_NAV_LABELS = ("分享到", "分享至", "返回首页", "返回顶部", "返回.{0,12}(?:列表|新闻|频道|栏目|首页)",
               "点击进入", "扫一扫", "打印本页", "关闭窗口", "打印", "收藏", "延伸阅读", "相关阅读", "相关新闻",
               "相关链接", "推荐阅读", "更多精彩", "字号", "上一篇", "下一篇")
_NAV_LINE = _any_script(r"^[\W_]*(?:" + "|".join(_NAV_LABELS) + r").{0,40}$")
_BYLINE_LABELS = ("文/摄", "文/图", "图/文", "记者", "通讯员", "本报记者", "全媒体记者", "融媒体记者", "特约记者",
                  "见习记者", "本报讯", "新华社记者", "图为", "资料图片?", "视频截图", "供图", "摄影")
_BYLINE_LINE = _any_script(r"^[\W_]*(?:" + "|".join(_BYLINE_LABELS) + r")[^。!?]{0,50}$")
# The three line patterns above need a label right after the line's leading non-word characters: a line whose
# first word character starts no label (in any script) is none of them, and is not matched against them.
_LINE_STARTS = frozenset(form for label in _SOURCE_LABELS + _NAV_LABELS + _BYLINE_LABELS for form in _forms(label[0]))
_FIRST_WORD_CHAR = re.compile(r"[^\W_]")
# A link ends where its ASCII URL characters end: CJK text runs on without a space after a link
# (`网址https：//gk.example.cn，或通过…`), and `\S*` there ate the rest of the paragraph.
_URL_TAIL = r"[A-Za-z0-9._~:/?#@!$&'*+,;=%-]*"
_URL = re.compile(r"(?:https?[:：])?//[A-Za-z0-9.-]+\.[a-z]{2,}" + _URL_TAIL
                  + r"|www\.[A-Za-z0-9-]+\.[a-z]{2,}" + _URL_TAIL, re.I)
# Parenthesised notes inside a paragraph: "(文章来源: 黑龙江日报)", "(记者 任志勇 王宗华 文/摄)".
_SOURCE_NOTE = _any_script(
    r"[(\[【〔][^()\[\]【】〔〕\n]{0,40}?(?:来源|转自|编辑)\s*[:︰][^()\[\]【】〔〕\n]{0,40}[)\]】〕]"
)
_BYLINE_NOTE = _any_script(
    r"[(\[【〔][^()\[\]【】〔〕\n]{0,40}?(?:记者|通讯员|文/摄|文/图|摄影|供图)[^()\[\]【】〔〕\n]{0,40}[)\]】〕]"
)
_BARE_URL_LINE = re.compile(r"^[\W_]*$")


def is_boilerplate_line(line: str) -> bool:
    stripped = line.strip()
    if not stripped:
        return True
    if len(stripped) <= 200 and _NOTICE_TRIGGER.search(stripped) and _NOTICE.search(stripped):
        return True
    first = _FIRST_WORD_CHAR.search(stripped)
    if first is None or first.group() not in _LINE_STARTS:
        return False
    return bool(
        _SOURCE_LINE.match(stripped) or _NAV_LINE.match(stripped) or _BYLINE_LINE.match(stripped)
    )


# Story paragraphs are long; only lines this short are checked between the first and last story line.
_SHORT_LINE = 60


# A gallery's slide counter (1/6, 2/6, ...) before each caption: page furniture, not text.
_SLIDE_COUNTER = re.compile(r"(?<![0-9/／.:-])([0-9]{1,2})\s*[/／]\s*([0-9]{1,2})(?![0-9/／.:%])")


def strip_slide_counters(text: str) -> str:
    """Drop a gallery's slide counters: 1/N, 2/N, ... in order with one N (two or more of them).

    A copy made from a photo gallery puts `k/N` before each caption; the article it copies has none, and on a
    short item the counters alone cost the pair a tenth of its shingles. A lone fraction (1/4) or a score
    (116/109) is no counter: only a run that counts 1, 2, ... over one total is."""
    if "/" not in text and "／" not in text:
        return text
    chains: dict[str, list[re.Match[str]]] = {}
    for match in _SLIDE_COUNTER.finditer(text):
        numerator, total = int(match.group(1)), int(match.group(2))
        chain = chains.setdefault(match.group(2), [])
        if numerator == len(chain) + 1 and numerator <= total:
            chain.append(match)
    spans = sorted(m.span() for chain in chains.values() if len(chain) >= 2 for m in chain)
    if not spans:
        return text
    kept, pos = [], 0
    for start, end in spans:
        kept.append(text[pos:start])
        pos = end
    kept.append(text[pos:])
    return " ".join(kept)


def strip_boilerplate(text: str) -> str:
    """Drop boilerplate lines and the notes, bylines and links embedded in story lines.

    Notices and footers sit before the first or after the last story line, so every line there is
    checked; between them only short lines (captions, source labels) are, which keeps the cost off
    the story paragraphs.
    """
    text = strip_slide_counters(text)
    if "//" in text or "www." in text:
        text = _URL.sub(" ", text)
    if any(bracket in text for bracket in "([【〔（［"):
        text = _BYLINE_NOTE.sub(" ", _SOURCE_NOTE.sub(" ", text))
    lines = text.splitlines()
    first, last = 0, len(lines) - 1
    while first <= last and _is_dropped(lines[first]):
        first += 1
    while last > first and _is_dropped(lines[last]):
        last -= 1
    middle = lines[first:last + 1]
    return "\n".join(line for line in middle if len(line) > _SHORT_LINE or not _is_dropped(line))


def _is_dropped(line: str) -> bool:
    return _BARE_URL_LINE.match(line) is not None or is_boilerplate_line(line)
