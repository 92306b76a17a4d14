"""`dedup recluster`, `dedup runs` and the scheduler as users and the compose stack run them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from dedup.cli.commands import app
from dedup.ops.scheduler import next_run, serve
from dedup.settings import Settings

runner = CliRunner()


def test_recluster_and_runs_commands(tmp_path, seed_files):
    db = str(tmp_path / "x.db")
    assert runner.invoke(app, ["ingest", str(seed_files[0].parent), "--db", db]).exit_code == 0
    result = runner.invoke(app, ["recluster", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["articles"] == 5 and report["moves"] == 0 and report["mode"] == "full"
    result = runner.invoke(app, ["recluster", "--dry-run", "--since", "2000-01-01", "--db", db])
    assert result.exit_code == 0 and "dry run" in result.output
    result = runner.invoke(app, ["runs", "--db", db, "--json"])
    runs = json.loads(result.output)
    assert [r["status"] for r in runs] == ["dry_run", "succeeded"]
    assert runs[1]["report"]["parameters"]["bands"] > 0
    assert "succeeded" in runner.invoke(app, ["runs", "--db", db]).output


def test_recluster_rejects_bad_options(tmp_path):
    db = str(tmp_path / "x.db")
    assert runner.invoke(app, ["recluster", "--full", "--since", "2026-01-01", "--db", db]).exit_code == 2
    assert runner.invoke(app, ["recluster", "--engine", "hadoop", "--db", db]).exit_code == 2


def test_cron_default_is_three_at_night():
    assert Settings().recluster_cron == "0 3 * * *"
    after = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert next_run("0 3 * * *", after) == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="invalid cron"):
        next_run("every night", after)


def test_scheduler_runs_the_job_when_the_slot_comes():
    now = [datetime(2026, 11, 22, 1, 30, tzinfo=UTC)]
    done: list[datetime] = []

    class FakeStop(threading.Event):
        """Waiting moves the fake clock instead of sleeping."""

        def wait(self, timeout: float | None = None) -> bool:
            now[0] += timedelta(seconds=timeout or 0)
            return self.is_set()

    def job(_settings: Settings) -> None:
        done.append(now[0])

    runs = serve(Settings(recluster_cron="0 3 * * *"), once=True, stop=FakeStop(), clock=lambda: now[0], job=job)
    assert runs == 1 and done == [datetime(2026, 11, 22, 3, 0, tzinfo=UTC)]
