"""Facts that differ between two headlines: the next lottery draw, the next session, a new count.

A successive update of one event (the next draw, the next day's figures, the next session of a meeting) often
keeps the body it was built on and puts its news in the headline alone. Reposts reword headlines (a new angle,
a site's suffix, a relative date made absolute) but keep their facts. So two headlines that state a number of
one kind with different values (`6注` / `1396注`, `第二期` / `第三期`, `81岁` / `82岁`) name different events,
however alike the bodies are. A number stated on one side only, a date written relatively on the other, or
numbers of different kinds (`一次转型` / `第四次工业革命`: a count and an ordinal) are no conflict.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from dedup.decide.twins import _KIND, _NUMBER_TOKEN, Conflict, _value
from dedup.text.script_variants import to_simplified

# What follows these in a headline is the site or section, not the story (`…_新浪网`, `…|财经`, `… - 新华网`).
# The spaces before the separator go with the `.strip()` after it: a leading `\s*` rescanned a run of spaces
# without a separator after it from each of its spaces (quadratic).
_SITE_SUFFIX = re.compile(r"(?:[_|｜]| - ).*$")
_ORDINAL = "第"
_PER = "%‰"


def _folded(text: str) -> str:
    return to_simplified(unicodedata.normalize("NFKC", text)).lower()


def headline_facts(title: str | None) -> dict[str, dict[str, str]]:
    """The numbers a headline states, by kind (the word or character after the number, `第` before an
    ordinal): kind -> value -> as written. Read only: the result is shared."""
    return _facts(title, True) if title else {}


@lru_cache(maxsize=4096)  # an article's headline (and body) is compared with each of its candidates
def _facts(text: str, headline: bool) -> dict[str, dict[str, str]]:
    text = _folded(text)
    if headline:
        text = _SITE_SUFFIX.sub("", text).strip()
    kinds: dict[str, dict[str, str]] = {}
    for match in _NUMBER_TOKEN.finditer(text):
        after = _KIND.match(text, match.end())
        if not after or not (after.group(1).isalnum() or after.group(1) in _PER):
            continue  # a number ending the headline or a clause says nothing of its kind
        ordinal = _ORDINAL if text[max(0, match.start() - 1):match.start()] == _ORDINAL else ""
        kind = ordinal + after.group(1)
        kinds.setdefault(kind, {})[_value(match.group())] = text[match.start():after.end()]
    return kinds


def headline_conflicts(title_a: str | None, title_b: str | None, text_a: str = "", text_b: str = ""
                       ) -> tuple[Conflict, ...]:
    """Kinds of number both headlines state with no value in common, where one headline's figure is nowhere in
    the other article (`text_a`, `text_b`: the bodies). Retitled reposts pick different figures of one story
    for their headlines (`气温将降八到十度` / `最低气温零下五度`), and both bodies state both."""
    facts_a, facts_b = headline_facts(title_a), headline_facts(title_b)
    found = []
    for kind in sorted(facts_a.keys() & facts_b.keys()):
        values_a, values_b = facts_a[kind], facts_b[kind]
        if values_a.keys() & values_b.keys():
            continue
        stated_a, stated_b = _stated(text_a, kind), _stated(text_b, kind)
        if not values_a.keys() <= stated_b or not values_b.keys() <= stated_a:
            found.append(Conflict("、".join(values_a.values()), "、".join(values_b.values()), "headline"))
    return tuple(found)


def _stated(text: str, kind: str) -> set[str]:
    return set(_facts(text, False).get(kind, {})) if text else set()
