"""Who published a story first and who copied it: per-source figures for the cluster browser.

A cluster is one story; its representative (the earliest published member) is the original, every other member
a repost. The counts are grouped in the database (by source and day); only the groups come here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dedup.models import Cluster

# A chart over more distinct days than this groups by month.
_MAX_DAYS = 62


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


def source_stats(activity: tuple[list[tuple], list[tuple], list[tuple]], only: str | None = None) -> list[SourceStats]:
    """Figures for every source (or only `only`), most articles first, from the store's `source_activity`
    counts: articles (source, day, n), stories first (source, day, n), reposts (source, origin, day, n)."""
    made, stories, reposts = activity
    days = {row[-2] for rows in activity for row in rows}
    width = 10 if len(days) <= _MAX_DAYS else 7  # by day, or by month over a long span
    stats: dict[str, SourceStats] = {}
    periods: dict[str, dict[str, Period]] = defaultdict(dict)

    def get(name: str, day: str) -> tuple[SourceStats, Period]:
        label = (day or "")[:width]
        return stats.setdefault(name, SourceStats(name)), periods[name].setdefault(label, Period(label))

    for name, day, n in made:
        own, period = get(name, day)
        own.articles += n
        period.articles += n
    for name, _day, n in stories:
        stats.setdefault(name, SourceStats(name)).stories_first += n
    for name, origin, day, n in reposts:
        if name == origin:
            continue  # a source repeating its own story is not copying
        own, period = get(name, day)
        own.reposts_made += n
        period.reposts_made += n
        first, period = get(origin, day)
        first.reposted_by_others += n
        period.reposted_by_others += n
    out = [s for s in stats.values() if only is None or s.name == only]
    for s in out:
        s.periods = sorted(periods[s.name].values(), key=lambda p: p.label)
    return sorted(out, key=lambda s: (-s.articles, s.name))
