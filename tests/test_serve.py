"""`dedup serve`, as an operator starts it: the command line starts quickly, several workers become ready on a
busy host, and every option given on the command line reaches every worker."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from dedup.settings import Settings
from tests.api_backends import OTHER, STORY, THIRD, redis_prefix
from tests.conftest import service_url
from tests.servers import stop, wait_ready

ROOT = Path(__file__).resolve().parent.parent
DEDUP = Path(sys.executable).parent / "dedup"
# What `dedup --help` (and every command that does not need them) must not pay for at start.
HEAVY = ("fastapi", "uvicorn", "starlette", "numpy", "scipy", "datasketch", "opencc", "jieba", "sqlalchemy",
         "pyspark", "redis", "pydantic_settings", "dedup.engine", "dedup.store", "app")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_command_line_loads_no_engine_store_or_server_until_a_command_needs_them():
    code = f"import sys, dedup.cli.commands; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.split() == []


def test_settings_exported_for_the_workers_read_back_the_same(monkeypatch, tmp_path):
    from dedup.cli.commands import _export_settings

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if not k.startswith("DEDUP_")})
    monkeypatch.chdir(tmp_path)  # no .env file here
    given = Settings(database_url=str(tmp_path / "x.db"), ngram=4, jaccard_threshold=0.55, redis_url=None,
                     alerts_sender=False, retention_days=30, api_key="k3y")
    _export_settings(given)
    assert Settings() == given


@contextmanager
def _busy_cpus() -> Iterator[None]:
    """Two spinning processes per core: the host of the report, where the workers starved."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 2))]
    try:
        yield
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()


def test_two_workers_become_ready_on_a_busy_host_and_both_sign_with_the_requested_ngram(tmp_path):
    """`dedup --ngram 4 serve --workers 2` on SQLite with the index in Redis: ready within a minute while every
    core is busy (it died in a loop of "Child process [N] died"), and what either worker stores is signed with
    4-character shingles (it was 5: only the database URL reached the workers)."""
    redis_url = service_url("DEDUP_TEST_REDIS_URL")
    db, log, metrics = tmp_path / "serve.db", tmp_path / "serve.log", tmp_path / "metrics"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEDUP_", "PROMETHEUS_"))}
    with redis_prefix(redis_url) as prefix, log.open("wb") as out:
        env.update(DEDUP_REDIS_URL=redis_url, DEDUP_REDIS_PREFIX=prefix, DEDUP_METRICS_DIR=str(metrics))
        with _busy_cpus():
            proc = subprocess.Popen([str(DEDUP), "--ngram", "4", "serve", "--port", str(port), "--workers", "2",
                                     "--db", str(db)], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                    wait_ready(client, proc, log, timeout=90)
            except BaseException:
                os.killpg(proc.pid, signal.SIGTERM)
                stop(proc)
                raise
        try:
            base = f"http://127.0.0.1:{port}"
            for i in range(30):  # a new connection each time, so both workers store some
                text = (STORY, OTHER, THIRD)[i % 3] + f"（第{i}号）"
                answer = httpx.post(f"{base}/v1/articles", json={"url": f"https://a.example/{i}", "text": text},
                                    timeout=30)
                assert answer.status_code == 201, answer.text
            writers = {path.stem.rsplit("_", 1)[1] for path in metrics.glob("counter_*.db")}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            stop(proc)
    shown = log.read_text(errors="replace")
    assert "died" not in shown and "unreachable" not in shown, shown
    assert len(writers) == 2, f"both workers should have stored articles: {writers}"
    with sqlite3.connect(db) as conn:
        versions = {row[0] for row in conn.execute("SELECT version FROM signatures")}
    assert len(versions) == 1 and "minhash(ngram=4," in versions.pop()


@pytest.mark.parametrize("option", [["--ngram", "0"], ["--jaccard", "0.1", "--lsh-threshold", "0.3"]])
def test_serve_refuses_settings_no_worker_could_run_with(option, tmp_path):
    result = subprocess.run([str(DEDUP), *option, "serve", "--db", str(tmp_path / "x.db")], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120)
    assert result.returncode != 0 and "invalid settings" in result.stderr


def test_one_worker_is_given_the_settings_of_the_command_line(monkeypatch, tmp_path):
    import uvicorn
    from typer.testing import CliRunner

    from dedup.cli.commands import app

    served: list = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **options: served.append(application))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--ngram", "4", "--jaccard", "0.6", "serve", "--db", str(tmp_path / "one.db")],
                                env={"DEDUP_REDIS_URL": ""})
    assert result.exit_code == 0, result.output
    settings = served[0].state.settings
    assert (settings.ngram, settings.jaccard_threshold, settings.database_url) == (4, 0.6, str(tmp_path / "one.db"))
