"""Who published a story first and who copied it: per-source figures for the cluster browser.

A cluster is one story; its representative (the earliest published member) is the original, every other member
a repost. A source's figures are counted from the narrow article facts (no texts), so the sources page of a
large store reads one index-sized scan, not the articles.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .models import Cluster

# A chart over more distinct days than this groups by month.
_MAX_DAYS = 62
_TOP_STORIES = 10


def source_name(source: str | None, url: str) -> str:
    """The declared source, else the URL's host: reposts are told apart by where they ran."""
    return source or urlsplit(url).hostname or url


@dataclass
class Period:
    label: str  # a day (2026-03-13) or a month (2026-03)
    articles: int = 0
    reposts_made: int = 0
    reposted_by_others: int = 0


@dataclass
class SourceStats:
    name: str
    articles: int = 0
    stories_first: int = 0  # stories (clusters) whose original is this source's
    reposts_made: int = 0  # its articles that repeat another source's story
    reposted_by_others: int = 0  # other sources' articles repeating its stories
    periods: list[Period] = field(default_factory=list)
    top_stories: list[tuple[Cluster, int]] = field(default_factory=list)  # (story, reposts by others)


def _when(published_at: str | None, ingested_at: str) -> str:
    return published_at or ingested_at


def source_stats(facts: list[tuple], clusters: dict[int, Cluster], only: str | None = None) -> list[SourceStats]:
    """Figures for every source (or only `only`), most articles first.

    `facts`: (id, source, url, cluster id, published_at, ingested_at) of every article."""
    names = {row[0]: source_name(row[1], row[2]) for row in facts}
    origin = {cid: names.get(c.representative_id) for cid, c in clusters.items()}
    stats: dict[str, SourceStats] = {}
    by_period: dict[str, dict[str, Period]] = defaultdict(dict)
    others: dict[str, Counter[int]] = defaultdict(Counter)
    days = {_when(row[4], row[5])[:10] for row in facts}
    width = 10 if len(days) <= _MAX_DAYS else 7
    for article_id, _source, _url, cid, published_at, ingested_at in facts:
        name = names[article_id]
        if only is not None and name != only and origin.get(cid) != only:
            continue
        label = _when(published_at, ingested_at)[:width]
        first = origin.get(cid)
        is_repost = cid is not None and clusters.get(cid) is not None and clusters[cid].representative_id != article_id
        own = stats.setdefault(name, SourceStats(name))
        period = by_period[name].setdefault(label, Period(label))
        own.articles += 1
        period.articles += 1
        if not is_repost:
            own.stories_first += cid is not None
            continue
        if first is not None and first != name:
            own.reposts_made += 1
            period.reposts_made += 1
            src = stats.setdefault(first, SourceStats(first))
            src.reposted_by_others += 1
            by_period[first].setdefault(label, Period(label)).reposted_by_others += 1
            others[first][cid] += 1
    out = [s for s in stats.values() if only is None or s.name == only]
    for s in out:
        s.periods = sorted(by_period[s.name].values(), key=lambda p: p.label)
        s.top_stories = [(clusters[cid], n) for cid, n in others[s.name].most_common(_TOP_STORIES)]
    return sorted(out, key=lambda s: (-s.articles, s.name))
