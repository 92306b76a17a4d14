"""Page script and style captured as text: lines of JavaScript or CSS are not story text.

Crawlers that take a page's text nodes sometimes deliver the page's `<script>` and `<style>`
contents as the body (tens of thousands of characters that every page of a site shares).
Such lines are recognised by their statistics, not by any site's strings: they are mostly
ASCII with few CJK characters, hold a statement or rule mark (`{ } ; =`), and most of their
space-separated tokens carry code punctuation (`{ } ( ) ; = < > $ | & # _ \\`) or a member
access (`a.b`), a CSS selector or property, where prose has plain words. Comment lines (`//`,
`/*`, `<!--`) count as code. Chinese prose (CJK characters) is never taken for code; English
prose has too few code tokens.
"""

from __future__ import annotations

import re

# Lines of a text are only examined when the text holds one of these at all (most news does not).
_SCREEN = re.compile(r"[{};=]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CODE_MARKS = frozenset("{}()[];=<>$|&#_\\")
# A member access (a.b): a run of word characters holding a letter, a dot, a letter. Each run is scanned once,
# from its start (`[A-Za-z_$][\w$]*\.` from every letter rescanned the rest of the run: a line `= aaa…` of
# 80 kB took 20 s), and the letter is looked for in Python.
_RUN_BEFORE_DOT = re.compile(r"(?<![\w$])([\w$]++)\.(?=[A-Za-z_$])")
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z_$]")
# A CSS selector (.class, #id, after a comma too) or property (color:#fff).
_SELECTOR = re.compile(r"(?:^|,)[.#][A-Za-z_-]|[A-Za-z]:[A-Za-z#0-9]")
_COMMENT_STARTS = ("//", "/*", "*/", "<!--", "-->")
# A line is code when at least this share of its characters is ASCII ...
_ASCII_SHARE = 0.6
# ... at most this share is CJK (a comment in Chinese is allowed, a Chinese sentence is not) ...
_CJK_SHARE = 0.25
# ... and at least this share of its tokens look like code.
_CODE_TOKEN_SHARE = 0.3
# Runs of at most this many short (this many characters) code-like lines between code lines are code.
_FRAGMENT_RUN = 5
_FRAGMENT_CHARS = 120


def _is_code_token(token: str) -> bool:
    return (any(ch in _CODE_MARKS for ch in token) or _SELECTOR.search(token) is not None
            or any(_IDENTIFIER_CHAR.search(run) for run in _RUN_BEFORE_DOT.findall(token)))


def _code_like(stripped: str) -> bool:
    """Mostly ASCII with few CJK characters: code, or a fragment that could sit in code."""
    size = len(stripped) - sum(ch.isspace() for ch in stripped)
    ascii_chars = sum(ch.isascii() and not ch.isspace() for ch in stripped)
    return ascii_chars >= _ASCII_SHARE * size and len(_CJK.findall(stripped)) <= _CJK_SHARE * size


def is_code_line(line: str) -> bool:
    """Whether a line is JavaScript or CSS rather than text a reader reads."""
    stripped = line.strip()
    if not stripped:
        return False
    if stripped.startswith(_COMMENT_STARTS):
        return True
    if _SCREEN.search(stripped) is None or not _code_like(stripped):
        return False
    tokens = stripped.split()
    return sum(_is_code_token(token) for token in tokens) >= _CODE_TOKEN_SHARE * len(tokens)


def _fragments_between_code(lines: list[str], code: list[bool]) -> None:
    """Short code-like lines with code on both sides (`require: [`, `url: "..."`, `],`) are code too."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    k = 0
    while k < len(filled):
        if code[filled[k]]:
            k += 1
            continue
        end = k
        while end < len(filled) and not code[filled[end]]:
            end += 1
        run = filled[k:end]
        bounded = k > 0 and end < len(filled)
        if bounded and len(run) <= _FRAGMENT_RUN and all(
                len(lines[i].strip()) <= _FRAGMENT_CHARS and _code_like(lines[i].strip()) for i in run):
            for i in run:
                code[i] = True
        k = end


def drop_code_lines(text: str) -> tuple[str, int]:
    """The text without its script and style lines, and how many lines went."""
    if _SCREEN.search(text) is None:
        return text, 0
    lines = text.splitlines()
    code = [is_code_line(line) for line in lines]
    if not any(code):
        return text, 0
    _fragments_between_code(lines, code)
    kept = [line for line, is_code in zip(lines, code) if not is_code]
    return "\n".join(kept), len(lines) - len(kept)
