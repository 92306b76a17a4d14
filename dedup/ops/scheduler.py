"""A small long-running scheduler: starts the re-cluster job at the times a cron expression names.

It is what the compose stack's scheduler service runs (`dedup scheduler`); a plain crontab
line calling `dedup recluster` does the same job. A run already in progress (started by hand
or through the admin API) makes the slot be skipped, not queued.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from dedup.engine import Engine
from dedup.ops.retention import apply_retention
from dedup.recluster.run_log import RunInProgress
from dedup.settings import Settings

log = logging.getLogger("dedup.ops.scheduler")


def next_run(expression: str, after: datetime) -> datetime:
    """The next time the expression names after `after` (UTC); ValueError on a bad expression."""
    if not croniter.is_valid(expression):
        raise ValueError(f"invalid cron expression {expression!r}")
    return croniter(expression, after).get_next(datetime)


def run_once(settings: Settings) -> dict | None:
    """One scheduled run with a fresh engine: the retention policy first (when DEDUP_RETENTION_DAYS is set),
    then the re-cluster; None when another run holds the lock."""
    from dedup.recluster.run import run_recluster

    engine = Engine(settings, rebuild=False)
    try:
        if settings.retention_days:
            kept = apply_retention(engine, settings.retention_days)
            log.info("retention run %s: %d of %d articles deleted", kept["run_id"], kept["deleted"], kept["matched"])
        report = run_recluster(engine, settings, full=True, engine_name=settings.recluster_engine)
        log.info("re-cluster run %s: %s", report.run_id, report.as_dict())
        return report.as_dict()
    except RunInProgress:
        log.warning("a re-cluster run is already in progress; this slot is skipped")
        return None
    finally:
        engine.close()


def serve(settings: Settings, *, once: bool = False, stop: threading.Event | None = None,
          clock: Callable[[], datetime] = lambda: datetime.now(UTC),
          job: Callable[[Settings], object] = run_once) -> int:
    """Sleep until each slot, run the job, repeat until stopped (SIGTERM/SIGINT) or after one run with `once`."""
    next_run(settings.recluster_cron, clock())  # a bad expression fails before any handler is installed
    previous: dict[signal.Signals, Any] = {}
    if stop is None and threading.current_thread() is threading.main_thread():
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        return _loop(settings, stop or threading.Event(), once, clock, job)
    finally:
        for sig, handler in previous.items():  # a caller's process (a test run, an embedding app) gets its own back
            signal.signal(sig, handler)


def _loop(settings: Settings, stop: threading.Event, once: bool, clock: Callable[[], datetime],
          job: Callable[[Settings], object]) -> int:
    runs = 0
    while not stop.is_set():
        due = next_run(settings.recluster_cron, clock())
        log.info("next re-cluster run at %s", due.isoformat())
        while not stop.is_set() and clock() < due:
            stop.wait(min(60.0, max(0.0, (due - clock()).total_seconds())))
        if stop.is_set():
            break
        try:
            job(settings)
        except Exception:  # noqa: BLE001 - a failed night must not stop the scheduler; the run row records it
            log.exception("re-cluster run failed")
        runs += 1
        if once:
            break
    return runs
