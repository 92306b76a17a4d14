"""Repost alerts under failure: a server SIGKILLed after the commit (before or during the post), a target that
times out or answers 500, and a slow target while articles keep arriving. Real server processes on SQLite (the
SIGKILL cases also on PostgreSQL + Redis when configured); the targets are HTTP servers on 127.0.0.1 started by
the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.ops.alerts import AlertSender
from dedup.settings import Settings
from tests.alert_receiver import receiver
from tests.api_backends import backend_settings
from tests.reliability.harness import ROOT, article, record, server_env, uvicorn_process, wait_ready

ALERTS = {"DEDUP_ALERTS_ALLOW_PRIVATE": "true", "DEDUP_ALERT_TIMEOUT": "1", "DEDUP_ALERT_POLL_INTERVAL": "0.2",
          "DEDUP_ALERT_BACKOFF": "0.2"}


def _watched_original(client, target_url: str) -> dict:  # type: ignore[no-untyped-def]
    original = client.post("/v1/articles", json=article(1, 0)).json()
    made = client.post("/v1/watches", json={"kind": "article", "value": str(original["id"]),
                                            "target_url": target_url})
    assert made.status_code == 201, made.text
    return made.json()


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _deliveries(settings: Settings, watch_id: int) -> list[dict]:
    engine = Engine(settings, rebuild=False)
    try:
        return engine.watches.deliveries(watch_id)
    finally:
        engine.close()


@pytest.mark.parametrize("kind", ["sqlite", "services"])
def test_an_alert_committed_but_not_sent_survives_sigkill(tmp_path, kind):
    """Sender off: the repost's commit writes the alert, the server dies by SIGKILL before any send, and a later
    `dedup alerts send` (another process) posts it."""
    with backend_settings(kind, tmp_path) as settings, receiver() as target:
        with uvicorn_process(settings, tmp_path / "server.log", **ALERTS, DEDUP_ALERTS_SENDER="false") as (client,
                                                                                                         proc):
            wait_ready(client, lambda: proc.poll() is None, tmp_path / "server.log")
            watch = _watched_original(client, target.url)
            repost = client.post("/v1/articles", json=article(1, 1))
            assert repost.status_code == 201 and repost.json()["is_duplicate"]
            _kill(proc)
        assert target.received == []
        sent = subprocess.run([sys.executable, "-c", "from dedup.cli.commands import main; main()", "alerts", "send", "--db", settings.database_url],
                              cwd=ROOT, env=server_env(settings, **ALERTS), capture_output=True, text=True,
                              timeout=120)
        assert sent.returncode == 0, sent.stderr
        assert "1 delivered" in sent.stdout
        (post,) = target.wait_for(1)
        assert post["json"]["article"]["url"] == article(1, 1)["url"]
        assert [d["status"] for d in _deliveries(settings, watch["id"])] == ["delivered"]


@pytest.mark.parametrize("kind", ["sqlite", "services"])
def test_an_alert_whose_post_was_cut_by_sigkill_is_posted_again(tmp_path, kind):
    """Sender on: the server is SIGKILLed while the target holds the post open. The claimed delivery is due again
    when its lease ends, and the next server posts it (same X-Dedup-Delivery: the receiver can deduplicate)."""
    log = tmp_path / "server.log"
    with backend_settings(kind, tmp_path) as settings, receiver(delay=30) as target:
        with uvicorn_process(settings, log, **ALERTS) as (client, proc):
            wait_ready(client, lambda: proc.poll() is None, log)
            watch = _watched_original(client, target.url)
            client.post("/v1/articles", json=article(1, 2))
            (first,) = target.wait_for(1)
            _kill(proc)
        target.delay = 0
        killed_at = time.monotonic()
        with uvicorn_process(settings, log, **ALERTS) as (client, proc):
            wait_ready(client, lambda: proc.poll() is None, log)
            posts = target.wait_for(2, timeout=30)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _deliveries(settings, watch["id"])[0]["status"] != "delivered":
                time.sleep(0.1)
        again = posts[1]
        assert again["headers"]["X-Dedup-Delivery"] == first["headers"]["X-Dedup-Delivery"]
        assert again["body"] == first["body"]
        (delivery,) = _deliveries(settings, watch["id"])
        assert delivery["status"] == "delivered" and delivery["attempts"] == 2
        record(f"alerts_sigkill_mid_post_{kind}", resent_after_s=round(time.monotonic() - killed_at, 1))


def _one_alert(tmp_path, name: str, **overrides: object) -> tuple[Engine, int]:
    settings = Settings(database_url=str(tmp_path / f"{name}.db"), alerts_allow_private=True, alert_timeout=0.5,
                        alert_backoff=0.05, **overrides)
    engine = Engine(settings)
    return engine, engine.ingest(ArticleIn(**article(1, 0))).id


def test_a_target_that_times_out_is_retried_and_dead_lettered(tmp_path):
    engine, original = _one_alert(tmp_path, "timeout", alert_max_attempts=2)
    try:
        with receiver(delay=2) as target:
            watch = engine.watches.add("article", original, target.url)
            engine.ingest(ArticleIn(**article(1, 3)))
            sender = AlertSender(engine.store, engine.settings)
            started = time.monotonic()
            assert sender.send_due() == {"delivered": 0, "retry": 1, "dead": 0}
            assert time.monotonic() - started < 1.5  # the timeout, not the target's 2 s
            (row,) = engine.watches.deliveries(watch.id)
            assert row["status"] == "pending" and "timed out" in row["last_error"] and row["last_status"] is None
            time.sleep(0.2)
            assert sender.send_due() == {"delivered": 0, "retry": 0, "dead": 1}
            assert engine.watches.deliveries(watch.id, status="dead")[0]["attempts"] == 2
    finally:
        engine.close()


def test_a_target_answering_500_is_retried_until_it_recovers(tmp_path):
    engine, original = _one_alert(tmp_path, "five")
    try:
        with receiver(status=500) as target:
            watch = engine.watches.add("article", original, target.url)
            engine.ingest(ArticleIn(**article(1, 3)))
            sender = AlertSender(engine.store, engine.settings)
            assert sender.send_due()["retry"] == 1
            (row,) = engine.watches.deliveries(watch.id)
            assert row["last_status"] == 500 and row["last_error"] == "HTTP 500"
            assert sender.send_due() == {"delivered": 0, "retry": 0, "dead": 0}  # backing off: not due yet
            target.status = 200
            time.sleep(0.2)
            assert sender.send_due()["delivered"] == 1
            assert len(target.received) == 2 and engine.watches.deliveries(watch.id)[0]["status"] == "delivered"
    finally:
        engine.close()


def test_a_slow_target_does_not_slow_ingest(tmp_path):
    """Every repost alerts a target that takes 3 s per post; ingest latency stays that of ingest alone."""
    settings = Settings(database_url=str(tmp_path / "slow.db"))
    log = tmp_path / "server.log"
    with receiver(delay=3) as target, uvicorn_process(settings, log, **{**ALERTS, "DEDUP_ALERT_TIMEOUT": "10"}) as (
            client, proc):
        wait_ready(client, lambda: proc.poll() is None, log)
        _watched_original(client, target.url)
        times = []
        for variant in range(1, 13):
            started = time.monotonic()
            answer = client.post("/v1/articles", json={**article(1, variant), "url": f"https://r{variant}.example/"})
            times.append(time.monotonic() - started)
            assert answer.status_code == 201 and answer.json()["is_duplicate"]
        assert target.received, "the sender was posting while the articles arrived"
        assert max(times) < 1.0, times
        record("alerts_slow_target", ingests=len(times), max_ingest_s=round(max(times), 3),
               posts_meanwhile=len(target.received))
