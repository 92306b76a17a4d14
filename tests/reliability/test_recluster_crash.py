"""The nightly re-cluster killed mid-run (SIGKILL): the previous assignment stays valid, the next run completes."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.settings import Settings
from tests.conftest import DEV_SET

from .harness import full, record


def _load_dev(engine: Engine, count: int) -> None:
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()[:count]]
    items = [ArticleIn(url=r["url"], text=r.get("text"), html=r.get("html"), title=r.get("title"),
                       published_at=r.get("published_at"), source=r.get("source")) for r in rows]
    for start in range(0, len(items), 500):
        assert not any(isinstance(r, Exception) for r in engine.ingest_many(items[start:start + 500]))


def _scatter(db: Path) -> None:
    """Put every article in a cluster of its own, as if ingest had missed every duplicate: the run then
    has real merges to make, so a half-applied run would show."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE articles SET cluster_id = id")
        conn.execute("DELETE FROM clusters")
        conn.execute("INSERT INTO clusters (id, representative_id, size, first_seen, last_seen) "
                     "SELECT id, id, 1, ingested_at, ingested_at FROM articles")


def _assignment(db: Path) -> dict[int, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT id, cluster_id FROM articles"))


def _assert_consistent(db: Path) -> None:
    """Every article is in a stored cluster whose size and representative agree with its members."""
    with sqlite3.connect(db) as conn:
        orphans = conn.execute("SELECT count(*) FROM articles a LEFT JOIN clusters c ON c.id = a.cluster_id "
                               "WHERE c.id IS NULL").fetchone()[0]
        wrong_size = conn.execute("SELECT count(*) FROM clusters c WHERE size != "
                                  "(SELECT count(*) FROM articles a WHERE a.cluster_id = c.id)").fetchone()[0]
        foreign_rep = conn.execute("SELECT count(*) FROM clusters c JOIN articles a ON a.id = c.representative_id "
                                   "WHERE a.cluster_id != c.id").fetchone()[0]
    assert (orphans, wrong_size, foreign_rep) == (0, 0, 0)


def _runs(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT id, status FROM recluster_runs ORDER BY id").fetchall()


def _copy(db: Path, target: Path) -> None:
    with sqlite3.connect(db) as source, sqlite3.connect(target) as copy:
        source.backup(copy)


def _start_run(db: Path) -> subprocess.Popen:
    env = {**os.environ, "DEDUP_DATABASE_URL": str(db), "DEDUP_RECLUSTER_REUSE_VERDICTS": "false"}
    env.pop("DEDUP_REDIS_URL", None)
    return subprocess.Popen([sys.executable, "-c", "from dedup.cli.commands import main; main()", "recluster"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _run_seconds(db: Path) -> float:
    with sqlite3.connect(db) as conn:
        report = conn.execute("SELECT report FROM recluster_runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    return float(json.loads(report)["duration_s"])


def _kill_while_running(db: Path, proc: subprocess.Popen, rng: random.Random, window: float) -> bool:
    """SIGKILL the run (and its verification workers) at a random moment of its work."""
    known = max((run_id for run_id, _ in _runs(db)), default=0)  # a killed run's row stays 'running'
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(run_id > known and status == "running" for run_id, status in _runs(db)):
            time.sleep(rng.uniform(0.0, 0.9 * window))
            break
        time.sleep(0.01)
    if proc.poll() is not None:
        return False
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return True


def test_recluster_killed_mid_run_keeps_the_previous_assignment_and_the_next_run_completes(tmp_path):
    db = tmp_path / "rc.db"
    engine = Engine(Settings(database_url=str(db), redis_url=None))
    _load_dev(engine, full(2000, 5286))
    engine.close()
    _scatter(db)
    before = _assignment(db)
    reference = tmp_path / "reference.db"  # what one complete run makes of the same data
    _copy(db, reference)
    assert _start_run(reference).wait(timeout=300) == 0
    after = _assignment(reference)
    assert after != before  # the run has merges to make
    window = _run_seconds(reference)
    rng = random.Random(11)
    kills = kept = 0
    for _ in range(full(3, 10)):
        kills += _kill_while_running(db, _start_run(db), rng, window)
        _assert_consistent(db)
        # Either nothing of the killed run was committed, or all of it: never a mix.
        assert _assignment(db) in (before, after)
        kept += _assignment(db) == before
    assert kills >= 1, "every run finished before it could be killed; the corpus is too small"

    finished = _start_run(db)
    assert finished.wait(timeout=300) == 0, finished.stderr.read().decode()[-2000:]
    runs = _runs(db)
    assert runs[-1][1] == "succeeded"
    assert "running" not in {status for _, status in runs[:-1]}  # killed runs are marked abandoned
    _assert_consistent(db)
    assert set(_assignment(db)) == set(before)  # no article lost
    record("recluster_killed", kills=kills, kept_previous=kept, runs=len(runs), articles=len(before),
           run_seconds=window)
