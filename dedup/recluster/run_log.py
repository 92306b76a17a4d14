"""Re-cluster run records and the cross-process guard that lets only one run go at a time.

The guard is a lock the operating system or the database drops by itself when its holder
dies: a PostgreSQL session advisory lock, or an flock on a file beside the SQLite database.
A row in `recluster_runs` with status 'running' says what is going on; rows left 'running'
by a dead process are marked 'abandoned' by the next run that gets the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from dedup.errors import DedupError
from dedup.store.base import RunLogStore

# Arbitrary 64-bit key of the advisory lock; constant so every process agrees on it.
_ADVISORY_KEY = 0x6465647570_7263  # "dedup" "rc"


class RunInProgress(DedupError):
    """Another re-cluster run holds the lock (HTTP: 409)."""

    code = "run_in_progress"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _sqlite_lock_path(store: RunLogStore) -> Path:
    database = store.engine.url.database
    if not database or database == ":memory:":
        return Path(f"/tmp/dedup-recluster-{os.getpid()}.lock")
    return Path(f"{database}.recluster.lock")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RunInProgress("a re-cluster run is already in progress") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


@contextmanager
def _advisory_lock(store: RunLogStore) -> Iterator[None]:
    with store.engine.connect() as conn:
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _ADVISORY_KEY}).scalar()
        conn.commit()
        if not got:
            raise RunInProgress("a re-cluster run is already in progress")
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_KEY})
            conn.commit()


@contextmanager
def run_lock(store: RunLogStore) -> Iterator[None]:
    """Hold the one-run-at-a-time lock, or raise RunInProgress at once (never wait: callers answer 409)."""
    lock = _file_lock(_sqlite_lock_path(store)) if store.is_sqlite else _advisory_lock(store)
    with lock:
        store.abandon_running_runs(now())
        yield


def start_run(store: RunLogStore, *, engine: str, mode: str, dry_run: bool) -> int:
    return store.add_run({"started_at": now(), "status": "running", "engine": engine, "mode": mode,
                          "dry_run": dry_run})


def finish_run(store: RunLogStore, run_id: int, report: dict, *, error: str | None = None) -> None:
    status = "failed" if error else ("dry_run" if report.get("dry_run") else "succeeded")
    store.update_run(run_id, {"finished_at": now(), "status": status, "error": error,
                              "report": json.dumps(report, ensure_ascii=False)})


def list_runs(store: RunLogStore, limit: int = 20) -> list[dict]:
    """Newest first; `report` decoded. What `dedup runs` and GET /v1/recluster/runs show."""
    out = []
    for row in store.list_runs(limit):
        row["report"] = json.loads(row["report"]) if row.get("report") else None
        out.append(row)
    return out
