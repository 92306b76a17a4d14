"""Deletes beyond one article: by URL, in bulk by source and publication dates, and the retention policy.

All of them go through `Engine.delete_articles` / `Engine.delete_article_by_url`, so the index, the clusters
(re-summarized, or removed when emptied) and the corrections of deleted articles get the upkeep a single
delete gives. The retention policy (DEDUP_RETENTION_DAYS, off by default) deletes articles published (else
ingested) more than that many days ago; the scheduler applies it before each re-cluster, and each application
is recorded in the runs table like a re-cluster run (engine `retention`), so `dedup runs` and
GET /v1/recluster/runs show it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from dedup.engine import Engine
from dedup.errors import InvalidArticle
from dedup.recluster.run_log import finish_run, now, run_lock, start_run
from dedup.validate import optional_text, time_bound


@dataclass
class DeleteReport:
    matched: int
    deleted: int
    dry_run: bool

    def as_dict(self) -> dict:
        return asdict(self)


_bound = time_bound


def delete_matching(engine: Engine, *, source: str | None = None, published_from: str | None = None,
                    published_until: str | None = None, dry_run: bool = False) -> DeleteReport:
    """Delete every article of a source and/or published in [from, until] (inclusive; dates are whole days).
    At least one condition is required: an empty filter would delete everything."""
    source = optional_text(source, "source")  # as ingest stored it (NUL dropped, trimmed)
    if source is None and published_from is None and published_until is None:
        raise InvalidArticle("give a source, published_from or published_until: a bulk delete without a "
                             "condition would delete every article")
    start = _bound(published_from, "published_from", end=False)
    before = _bound(published_until, "published_until", end=True)
    if start is not None and before is not None and start >= before:
        raise InvalidArticle(f"published_from {published_from} is after published_until {published_until}: "
                             "the range holds no day")
    ids = engine.store.article_ids_matching(source=source, published_from=start, published_before=before)
    deleted = 0 if dry_run else engine.delete_articles(ids)
    return DeleteReport(matched=len(ids), deleted=deleted, dry_run=dry_run)


def retention_cutoff(days: int, today: datetime | None = None) -> str:
    """The instant before which articles are out of retention, as the stored timestamps compare (UTC)."""
    moment = (today or datetime.now(UTC)) - timedelta(days=days)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def apply_retention(engine: Engine, days: int, *, dry_run: bool = False, today: datetime | None = None) -> dict:
    """Delete articles published (else ingested) more than `days` days ago, as a recorded run under the
    one-run-at-a-time lock (raises RunInProgress while a re-cluster runs). Returns the run's report."""
    if days < 1:
        raise InvalidArticle(f"retention days must be at least 1, not {days}")
    with run_lock(engine.store):
        run_id = start_run(engine.store, engine="retention", mode=f"{days} days", dry_run=dry_run)
        cutoff = retention_cutoff(days, today)
        report: dict = {"run_id": run_id, "engine": "retention", "days": days, "cutoff": cutoff,
                        "dry_run": dry_run, "started_at": now()}
        try:
            ids = engine.store.article_ids_matching(older_than=cutoff)
            report["matched"] = len(ids)
            report["deleted"] = 0 if dry_run else engine.delete_articles(ids)
        except BaseException as exc:
            finish_run(engine.store, run_id, report, error=f"{type(exc).__name__}: {exc}")
            raise
        report["finished_at"] = now()
        finish_run(engine.store, run_id, report)
    return report
