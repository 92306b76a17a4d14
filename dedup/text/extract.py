"""Article text out of the wrappers reposts come in: Jekyll front matter, HTML, Markdown.

Sites wrap the same story differently; only the words a reader sees belong in
the comparison, so scripts, styles, navigation and markup are dropped here,
before any folding.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field

# Every pattern here runs on user input, so each is linear: possessive quantifiers and bounded or
# stop-at-the-next-opener scans, never a lazy scan followed by an optional run that can fail late.
_FRONT_MATTER = re.compile(r"\A\ufeff?\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
# `key: value` on one line; the value is stripped in Python. (`(.*?)\s*$` retried the trailing-space run
# from every position of the value: 40 kB of spaces took a minute.)
_FRONT_FIELD = re.compile(r"^([A-Za-z_][\w-]*+)[ \t]*+:(.*)$", re.M)
# Any opening or closing tag; `looks_like_html` then checks the name. The attribute scan stops at the next
# `<`: `<p <p <p ...` without a `>` costs one pass, not one scan to the end of the text per `<` (240 kB took
# 111 s). A name set instead of a 35-way alternation tried at every `<` makes the pass ten times cheaper.
_ANY_TAG = re.compile(r"<\s*+/?\s*+([A-Za-z]\w*+)[^<>]*+>")
_HTML_HINT_NAMES = frozenset(
    "p div br span a img html body head script style h1 h2 h3 h4 h5 h6 li ul ol table tr td article section "
    "nav header footer aside strong em b i figure figcaption blockquote".split()
)
# Each scan stops at the next opener as well as at its closer ([ for link text, ( for the target, < for
# autolinks): a line of 100k unclosed `[` or `<http:` then costs linear work instead of one scan to the end
# of the line per opener (quadratic: seconds for 20 kB, hours for the 2 MB an article may have).
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]*\]\([^()\n]*\)")
_MD_LINK = re.compile(r"\[([^\[\]\n]*)\]\([^()\n]*\)")
_MD_AUTOLINK = re.compile(r"<(?:https?:|//|www\.)[^<>\s]*>", re.I)
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M)

# Content of these elements never reaches a reader as article text.
_SKIPPED = frozenset(
    {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "button", "select",
     "iframe", "svg", "template", "head", "title", "menu"}
)
_BLOCK = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "article",
     "section", "blockquote", "figure", "figcaption", "pre", "hr", "dd", "dt", "dl", "td", "th"}
)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"})
# Bounds work on hostile markup: deeper nesting of skipped elements than this is not tracked.
_MAX_DEPTH = 512

# The markup tokenizer (HTML's tokenization rules, simplified to what text extraction needs). Each token
# pattern either ends at its closer or runs to the end of the input (`\Z`: an unclosed tag, comment or
# declaration hides the rest, as in a browser), and every quantifier is possessive, so no character is
# scanned twice for the same token and a token that fails can only fail once: linear on any input.
# (`html.parser` rescanned to the end from every `<` of an unclosed construct: `"<a" * 200000` took 15 min.)
_WS = "\t\n\f\r "
_START_TAG = re.compile(
    rf"<([A-Za-z][^{_WS}/>]*+)((?:[{_WS}/]++|[^{_WS}/>][^{_WS}/>=]*+"
    rf"(?:[{_WS}]*+=[{_WS}]*+(?:\"[^\"]*+\"|'[^']*+'|[^{_WS}>]*+))?+)*+)(>|\Z)"
)
_END_TAG = re.compile(rf"</([A-Za-z][^{_WS}/>]*+)[^>]*+(>|\Z)")
_COMMENT = re.compile(r"<!--(?:-?>|.*?(?:--!?>|\Z))", re.S)
_BOGUS = re.compile(r"<[!?/][^>]*+(?:>|\Z)")  # <!DOCTYPE>, <![CDATA[...]]>, <?xml?>, </3>: no text
# A numeric character reference with more significant digits than any code point has. `html.unescape`
# would convert the whole digit run to an int: a ValueError past 4,300 digits, quadratic work before that.
_NUMERIC_REF = re.compile(r"&#(?:[xX]0*+([0-9a-fA-F]++)|0*+([0-9]++));?")
# Script and style content is raw text up to its end tag: `if (a<b)` opens no tag.
_RAW_TEXT_END = {tag: re.compile(rf"</{tag}(?=[{_WS}/>])", re.I) for tag in ("script", "style")}


def unescape(text: str) -> str:
    """`html.unescape`, with numeric references of any length bounded first (out of range is U+FFFD)."""
    if "&" not in text:
        return text
    if "&#" in text:
        text = _NUMERIC_REF.sub(_bounded_ref, text)
    return html.unescape(text)


def _bounded_ref(match: re.Match[str]) -> str:
    hex_digits, digits = match.group(1), match.group(2)
    significant = hex_digits if hex_digits is not None else digits
    if len(significant) > 8:  # beyond U+10FFFF in either base
        return "\ufffd"
    return f"&#x{hex_digits};" if hex_digits is not None else f"&#{digits};"


@dataclass
class Extracted:
    text: str
    title: str | None = None
    date: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class _TextCollector:
    """Reader-visible text: data outside skipped elements, a line break at each block element's edges."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.skip_stack: list[str] = []
        self.open_skipped: Counter[str] = Counter()

    def start(self, tag: str) -> None:
        if tag in _SKIPPED and tag not in _VOID and len(self.skip_stack) < _MAX_DEPTH:
            self.skip_stack.append(tag)
            self.open_skipped[tag] += 1
        if tag in _BLOCK:
            self.parts.append("\n")

    def end(self, tag: str) -> None:
        if self.open_skipped[tag]:
            # Close up to the matching open tag; stray end tags are ignored.
            while True:
                closed = self.skip_stack.pop()
                self.open_skipped[closed] -= 1
                if closed == tag:
                    break
        if tag in _BLOCK:
            self.parts.append("\n")

    def data(self, text: str) -> None:
        if text and not self.skip_stack:
            self.parts.append(unescape(text))


def _match_end(pattern: re.Pattern[str], markup: str, at: int) -> int:
    """Where a construct that always matches at `at` (it may run to the end of input) ends."""
    match = pattern.match(markup, at)
    assert match is not None
    return match.end()


def _next_token(markup: str, at: int, out: _TextCollector) -> int:
    """Handle the construct that starts with the `<` at `at`; return where the next one may start."""
    following = markup[at + 1:at + 2]
    if following.isascii() and following.isalpha():
        match = _START_TAG.match(markup, at)
        assert match is not None  # at `<` and a letter the pattern always matches (it may end at the end of input)
        if not match.group(3):  # unclosed at the end of the input: not text a reader sees
            return len(markup)
        tag = match.group(1).lower()
        out.start(tag)
        if match.group(2).endswith("/"):  # `<br/>`: a start and an end tag
            out.end(tag)
        elif tag in _RAW_TEXT_END:
            end = _RAW_TEXT_END[tag].search(markup, match.end())
            return end.start() if end else len(markup)
        return match.end()
    if following == "/" and markup[at + 2:at + 3].isascii() and markup[at + 2:at + 3].isalpha():
        match = _END_TAG.match(markup, at)
        assert match is not None  # as above
        if match.group(2):
            out.end(match.group(1).lower())
        return match.end()
    if markup.startswith("<!--", at):
        return _match_end(_COMMENT, markup, at)
    if following in ("!", "?", "/"):
        return _match_end(_BOGUS, markup, at)
    out.data("<")
    return at + 1


def html_to_text(markup: str) -> str:
    """Reader-visible text of an HTML page or fragment, in one linear pass over the markup."""
    out = _TextCollector()
    pos = 0
    while pos < len(markup):
        at = markup.find("<", pos)
        if at < 0:
            out.data(markup[pos:])
            break
        out.data(markup[pos:at])
        pos = _next_token(markup, at, out)
    return "".join(out.parts)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Top-level `key: value` pairs of a Jekyll/Hugo front matter block, and the body after it."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields = {k.lower(): _unquote(v.strip()) for k, v in _FRONT_FIELD.findall(match.group(1))}
    return fields, text[match.end():]


def looks_like_html(text: str) -> bool:
    """A tag of a common element anywhere: the text is a page or a fragment, not plain text with a `<`."""
    return any(match.group(1).lower() in _HTML_HINT_NAMES for match in _ANY_TAG.finditer(text))


def _strip_markdown(text: str) -> str:
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_AUTOLINK.sub("", text)
    return _MD_HEADING.sub("", text)


def extract(raw: str, *, is_html: bool | None = None) -> Extracted:
    """Reader-visible text of a raw article, with title and date from its front matter when it has one."""
    fields, body = split_front_matter(raw)
    if is_html is None:
        is_html = looks_like_html(body)
    if is_html:
        body = html_to_text(body)
    else:
        body = unescape(body)
    if "](" in body or "<" in body or "#" in body:
        body = _strip_markdown(body)
    return Extracted(text=body, title=fields.get("title") or None, date=fields.get("date") or None, fields=fields)
