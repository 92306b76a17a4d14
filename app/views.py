"""View models for the cluster browser: engine records shaped for templates, no HTTP and no HTML here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from dedup import validate
from dedup.clusters.origins import Period, SourceStats, source_name
from dedup.decide.explain import _MAX_CHARS as COMPARED_CHARS
from dedup.decide.explain import Explanation, Passage
from dedup.decide.explain_removed import Removed, removed_lines
from dedup.decide.verify import Verdict
from dedup.engine import Engine
from dedup.errors import InvalidArticle
from dedup.models import Article, Cluster
from dedup.text.boilerplate import is_boilerplate_line
from dedup.text.extract import extract
from dedup.text.source_map import SourceMap

from .keywords import keywords

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# A number as printed: thousands separators, decimal points and a percent sign belong to it.
_PRINTED_NUMBER = re.compile(r"\d+(?:[.,，．]\d+)*\s?[%％]?")
_TITLE_CHARS = 60
_CARD_CHARS = 3_000  # a card's keywords come from the representative's opening


@dataclass(frozen=True)
class Part:
    text: str
    number: bool = False


@dataclass(frozen=True)
class Segment:
    """A run of one side's normalized text: shared | only | changed | common (short equal run) | plain."""

    kind: str
    text: str
    parts: tuple[Part, ...] = ()


@dataclass
class ClusterRow:
    id: int
    size: int
    title: str
    representative_id: int
    sources: list[str]
    first_seen: str
    last_seen: str
    keywords: list[str] = field(default_factory=list)


@dataclass
class Side:
    article: Article
    title: str
    source: str
    segments: list[Segment]
    removed: list[Removed]
    original: list[Segment] = field(default_factory=list)


def is_web_url(url: str) -> bool:
    """Whether a stored URL may be rendered as a link: what ingest accepts today (http(s), a host, no user
    name or password). Rows stored before that rule (a `file://` URL, one with a password) show as text."""
    try:
        validate.url(url)
    except InvalidArticle:
        return False
    return True


def source_of(article: Article) -> str:
    """The declared source, else the URL's host: reposts are told apart by where they ran."""
    return source_name(article.source, article.url)


def title_of(article: Article) -> str:
    """The article's title, else the first line of its text as published (not a boilerplate line): the
    normalized text has no punctuation and no spaces, so it never makes a readable title."""
    if article.title:
        return article.title
    visible = extract(article.raw_text).text
    line = next((ln.strip() for ln in visible.splitlines() if ln.strip() and not is_boilerplate_line(ln)),
                visible.strip())
    return line[:_TITLE_CHARS] + ("…" if len(line) > _TITLE_CHARS else "")


def cluster_row(cluster: Cluster, rep: Article, members: list[tuple[str | None, str]]) -> ClusterRow:
    """One card of the clusters list, from the representative and the members' (source, url) only."""
    sources = list(dict.fromkeys(source_name(source, url) for source, url in members))
    return ClusterRow(id=cluster.id, size=cluster.size, title=title_of(rep), representative_id=rep.id,
                      sources=sources, first_seen=cluster.first_seen, last_seen=cluster.last_seen,
                      keywords=list(_card_keywords(rep.norm_text[:_CARD_CHARS])))


@lru_cache(maxsize=4096)
def _card_keywords(text: str) -> tuple[str, ...]:
    """A list card's keywords: jieba costs ~15 ms a text, 20 cards a page; a representative's opening changes
    rarely, so the home page reuses them instead of re-cutting the same texts on every visit."""
    return tuple(keywords(text, top=6))


def _number_parts(text: str, pattern: re.Pattern[str] = _NUMBER) -> tuple[Part, ...]:
    """Split out the numbers: a number that differs is what makes a template twin a different story."""
    parts, last = [], 0
    for m in pattern.finditer(text):
        if m.start() > last:
            parts.append(Part(text[last:m.start()]))
        parts.append(Part(m.group(0), number=True))
        last = m.end()
    if last < len(text):
        parts.append(Part(text[last:]))
    return tuple(parts)


def _spans(x: Explanation, side: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, text) of every passage on one side; passages absent on this side are skipped."""
    out = []
    for p in [*x.shared, *x.differing]:
        text, start = (p.a, p.a_start) if side == "a" else (p.b, p.b_start)
        if text:
            out.append((start, start + len(text), _kind(p), text))
    return sorted(out)


def _kind(p: Passage) -> str:
    return "only" if p.kind in ("only_a", "only_b") else p.kind


def segments(x: Explanation, side: str) -> list[Segment]:
    """Cover one side's normalized text with passages; gaps are short equal runs (too short to count as shared)
    or text past the compared length."""
    norm = (x.a if side == "a" else x.b).norm_text
    out, pos = [], 0
    for start, end, kind, text in _spans(x, side):
        if start > pos:
            out.append(Segment("common", norm[pos:start]))
        out.append(Segment(kind, text, _number_parts(text) if kind == "changed" else ()))
        pos = max(pos, end)
    if pos < min(len(norm), COMPARED_CHARS):
        out.append(Segment("common", norm[pos:COMPARED_CHARS]))
    if len(norm) > max(pos, COMPARED_CHARS):
        out.append(Segment("plain", norm[max(pos, COMPARED_CHARS):]))
    return out


def _norm_kinds(x: Explanation, which: str) -> list[str]:
    """The passage kind of every normalized character of one side (as `segments` covers them)."""
    norm = (x.a if which == "a" else x.b).norm_text
    kinds = ["common"] * min(len(norm), COMPARED_CHARS) + ["plain"] * max(0, len(norm) - COMPARED_CHARS)
    for start, end, kind, _text in _spans(x, which):
        kinds[start:end] = [kind] * (end - start)
    return kinds


def _visible_kinds(kinds: list[str], smap: SourceMap) -> list[str | None]:
    """Kinds on the visible characters: mapped ones take their normalized character's, words normalization
    dropped are 'removed', and punctuation between two characters of one kind takes that kind (a changed
    "1,200" is highlighted with its comma), except across a paragraph break."""
    out: list[str | None] = [None] * len(smap.visible)
    for i, kind in enumerate(kinds):
        if smap.starts[i] >= 0:
            out[smap.starts[i]:smap.ends[i]] = [kind] * (smap.ends[i] - smap.starts[i])
    for pos, gone in enumerate(smap.removed):
        if gone:
            out[pos] = "removed"
    previous: str | None = None
    gap: list[int] = []
    for pos, here in enumerate(out):
        if here is None:
            gap.append(pos)
            continue
        if gap and here == previous and not any(smap.visible[p] in "\r\n" for p in gap):
            for p in gap:
                out[p] = here
        previous, gap = here, []
    for m in _PRINTED_NUMBER.finditer(smap.visible):  # a number with a changed digit changed as a whole
        if "changed" in out[m.start():m.end()]:
            out[m.start():m.end()] = ["changed"] * (m.end() - m.start())
    return out


def original_segments(x: Explanation, which: str, smap: SourceMap) -> list[Segment]:
    """The article as published, cut into runs of one kind: the same passages as the normalized view, on the
    original characters, with paragraphs and punctuation kept and what normalization removed struck out."""
    kinds = _visible_kinds(_norm_kinds(x, which), smap)
    out: list[Segment] = []
    start = 0
    for pos in range(1, len(kinds) + 1):
        if pos < len(kinds) and kinds[pos] == kinds[start]:
            continue
        kind, text = kinds[start] or "common", smap.visible[start:pos]
        parts = _number_parts(text, _PRINTED_NUMBER) if kind == "changed" else ()
        out.append(Segment(kind, text, parts))
        start = pos
    return out


def side(x: Explanation, which: str, engine: Engine) -> Side:
    article = x.a if which == "a" else x.b
    removed = removed_lines(article.raw_text, article.norm_text, engine.settings.normalization())
    return Side(article=article, title=title_of(article), source=source_of(article), segments=segments(x, which),
                removed=removed, original=original_segments(x, which, engine.source_map(article)))


# -- charts (server-side SVG: no script, no CDN, nothing but this page and /static/style.css) -----------------
@dataclass(frozen=True)
class Point:
    article_id: int
    x: float
    y: float
    kind: str  # original | repost | excerpt | distinct
    href: str | None
    tip: str


@dataclass
class Timeline:
    width: int
    height: int
    left: int
    rows: list[tuple[str, str, float]]  # (source, label fitting the margin, y)
    ticks: list[tuple[float, str]]  # (x, label)
    points: list[Point]


# viewBox units; the SVG is drawn at most this wide (CSS), so a unit is about a pixel on a desktop.
_T_WIDTH, _T_LEFT, _T_RIGHT, _T_ROW, _T_TOP, _T_AXIS = 960, 170, 60, 30, 12, 26


def _moment(article: Article) -> datetime:
    """Publication time, else arrival time; naive times are read as UTC so the two can be compared."""
    for value in (article.published_at, article.ingested_at):
        try:
            moment = datetime.fromisoformat(value or "")
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(0, UTC)


def _ticks(t0: datetime, t1: datetime, left: float, plot: float, count: int = 4) -> list[tuple[float, str]]:
    span = (t1 - t0).total_seconds()
    fmt = "%m-%d %H:%M" if span < 3 * 86_400 else "%Y-%m-%d"
    if span == 0:
        return [(left + plot / 2, t0.strftime("%Y-%m-%d %H:%M"))]
    return [(left + plot * k / count, (t0 + (t1 - t0) * k / count).strftime(fmt)) for k in range(count + 1)]


def _fit(name: str, room: int = 21) -> str:
    """A row label that fits the timeline's margin: a CJK character takes two Latin letters' width."""
    used = 0
    for pos, ch in enumerate(name):
        used += 2 if ord(ch) >= 0x2E80 else 1
        if used > room:
            return name[:pos] + "…"
    return name


def member_kind(article: Article, rep: Article, verdict: Verdict, jaccard: float) -> str:
    """Original (the earliest, the representative), repost (most of the text), excerpt (a part of it), or
    distinct (in the story through other members, not a duplicate of the original itself)."""
    if article.id == rep.id:
        return "original"
    if not verdict.is_duplicate:
        return "distinct"
    return "repost" if verdict.scores.jaccard >= jaccard else "excerpt"


def timeline(members: list[Article], rep: Article, verdicts: dict[int, Verdict], jaccard: float) -> Timeline:
    """One row per source, members placed by time, the original marked; each point links to its comparison with
    the representative and carries the verdict as its tooltip."""
    sources = list(dict.fromkeys(source_of(m) for m in sorted(members, key=_moment)))
    row_y = {name: _T_TOP + _T_ROW * (k + 0.5) for k, name in enumerate(sources)}
    moments = {m.id: _moment(m) for m in members}
    t0, t1 = min(moments.values()), max(moments.values())
    span = (t1 - t0).total_seconds()
    plot = _T_WIDTH - _T_LEFT - _T_RIGHT
    points = []
    for m in members:
        x = _T_LEFT + (plot * (moments[m.id] - t0).total_seconds() / span if span else plot / 2)
        v = verdicts[m.id]
        kind = member_kind(m, rep, v, jaccard)
        tip = (f"{title_of(m)}\n{source_of(m)} · {moments[m.id].strftime('%Y-%m-%d %H:%M')}"
               f"{'' if m.published_at else ' (arrival)'}\n{kind}")
        if m.id != rep.id:
            tip += f" · Jaccard {v.scores.jaccard:.2f} · containment {v.scores.containment:.2f}\n{v.reason}"
        href = None if m.id == rep.id else f"/compare?a={rep.id}&b={m.id}"
        points.append(Point(m.id, round(x, 1), row_y[source_of(m)], kind, href, tip))
    height = int(_T_TOP + _T_ROW * len(sources) + _T_AXIS)
    return Timeline(_T_WIDTH, height, _T_LEFT, [(name, _fit(name), y) for name, y in row_y.items()],
                    _ticks(t0, t1, _T_LEFT, plot), points)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    kind: str  # articles | reposts_made | reposted_by_others
    tip: str


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    labels: list[tuple[float, str]]
    peak: int
    bar_width: float


_C_WIDTH, _C_HEIGHT, _C_LEFT, _C_TOP, _C_AXIS = 960, 180, 36, 10, 24
_C_MAX_BAR = 24
_SERIES = (("articles", "articles"), ("reposts_made", "reposts of others"),
           ("reposted_by_others", "reposted by others"))


def source_chart(stats: SourceStats) -> Chart:
    """Three bars per day (or month): the source's articles, its reposts of others, others' reposts of it."""
    periods = stats.periods or [Period("—")]
    peak = max(1, *(max(p.articles, p.reposts_made, p.reposted_by_others) for p in periods))
    plot_w, plot_h = _C_WIDTH - _C_LEFT - 8, _C_HEIGHT - _C_TOP - _C_AXIS
    slot = plot_w / len(periods)
    bar_w = min(max(slot / (len(_SERIES) + 1), 0.5), _C_MAX_BAR)
    bars, labels = [], []
    for k, period in enumerate(periods):
        x0 = _C_LEFT + slot * (k + 0.5) - bar_w * len(_SERIES) / 2
        for s, (attr, name) in enumerate(_SERIES):
            value = getattr(period, attr)
            h = plot_h * value / peak
            bars.append(Bar(round(x0 + s * bar_w, 1), round(_C_TOP + plot_h - h, 1), round(h, 1), attr,
                            f"{period.label}: {value} {name}"))
    step = max(1, len(periods) // 6)
    labels = [(round(_C_LEFT + slot * (k + 0.5), 1), periods[k].label) for k in range(0, len(periods), step)]
    return Chart(_C_WIDTH, _C_HEIGHT, bars, labels, peak, round(bar_w * 0.9, 2))
