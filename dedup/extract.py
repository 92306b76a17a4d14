"""Article text out of the wrappers reposts come in: Jekyll front matter, HTML, Markdown.

Sites wrap the same story differently; only the words a reader sees belong in
the comparison, so scripts, styles, navigation and markup are dropped here,
before any folding.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_FRONT_MATTER = re.compile(r"\A\ufeff?\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_FRONT_FIELD = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$", re.M)
_HTML_HINT = re.compile(
    r"<\s*/?\s*(?:p|div|br|span|a|img|html|body|head|script|style|h[1-6]|li|ul|ol|table|tr|td|"
    r"article|section|nav|header|footer|aside|strong|em|b|i|figure|figcaption|blockquote)\b[^>]*>",
    re.I,
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
# Bounds work on hostile markup: deeper nesting than this is not tracked.
_MAX_DEPTH = 512


@dataclass
class Extracted:
    text: str
    title: str | None = None
    date: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED and tag not in _VOID and len(self.skip_stack) < _MAX_DEPTH:
            self.skip_stack.append(tag)
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_stack and tag in _SKIPPED:
            # Close up to the matching open tag; stray end tags are ignored.
            if tag in self.skip_stack:
                while self.skip_stack and self.skip_stack.pop() != tag:
                    pass
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_stack:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextCollector()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Top-level `key: value` pairs of a Jekyll/Hugo front matter block, and the body after it."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    fields = {k.lower(): _unquote(v) for k, v in _FRONT_FIELD.findall(match.group(1))}
    return fields, text[match.end():]


def looks_like_html(text: str) -> bool:
    return _HTML_HINT.search(text) is not None


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
    elif "&" in body:
        body = html.unescape(body)
    if "](" in body or "<" in body or "#" in body:
        body = _strip_markdown(body)
    return Extracted(text=body, title=fields.get("title") or None, date=fields.get("date") or None, fields=fields)
