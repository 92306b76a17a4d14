"""Repost alerts: watches over HTTP, the outbox written with the article, signed posts, retries, dead letters,
target checks, and several senders sharing one queue (SQLite, and PostgreSQL + Redis when configured)."""

from __future__ import annotations

import json
import threading

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from dedup.engine import Engine
from dedup.errors import InvalidWatch, NotFound
from dedup.models import ArticleIn
from dedup.ops.alerts import AlertSender, sign
from dedup.store import open_store
from tests.alert_receiver import receiver
from tests.api_backends import OTHER, STORY, THIRD, backend_settings

BACKENDS = ["sqlite", "services"]
FAST = {"alerts_allow_private": True, "alert_poll_interval": 0.1, "alert_backoff": 0.01, "alert_timeout": 2.0}


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    with backend_settings(request.param, tmp_path, **FAST) as settings:
        yield settings


@pytest.fixture
def engine(backend):
    eng = Engine(backend)
    yield eng
    eng.close()


def _drain(engine: Engine, rounds: int = 20) -> None:
    """Send until nothing is due (retries with a tiny backoff fall due quickly)."""
    sender = AlertSender(engine.store, engine.settings)
    for _ in range(rounds):
        if not sum(sender.send_due().values()):
            threading.Event().wait(0.05)
            if not sum(sender.send_due().values()):
                return


def test_repost_of_a_watched_article_is_posted_signed_and_logged(backend):
    with receiver() as target, TestClient(create_app(backend)) as client:
        original = client.post("/v1/articles", json={"url": "https://mine.example/a/1", "text": STORY}).json()
        made = client.post("/v1/watches", json={"kind": "article", "value": "https://mine.example/a/1",
                                                 "target_url": target.url, "note": "our scoop"})
        assert made.status_code == 201
        watch = made.json()
        assert watch["value"] == str(original["id"]) and len(watch["secret"]) >= 32
        client.post("/v1/articles", json={"url": "https://other.example/x", "text": OTHER})  # not a repost
        repost = client.post("/v1/articles", json={"url": "https://copy.example/9", "text": STORY + "（来源：网络）"})
        assert repost.json()["is_duplicate"]
        (post,) = target.wait_for(1)
        assert post["headers"]["X-Dedup-Signature"] == sign(watch["secret"], post["body"])
        body = post["json"]
        assert body["watch"]["id"] == watch["id"] and body["article"]["url"] == "https://copy.example/9"
        assert body["duplicate_of"]["url"] == "https://mine.example/a/1"
        assert body["scores"]["jaccard"] > 0.5 and body["cluster"]["id"] == original["cluster_id"]
        assert client.get(f"/v1/watches/{watch['id']}").json().get("secret") is None  # shown once
        log = _wait_delivered(client, watch["id"])
        assert log["deliveries"][0]["payload"] == body and log["deliveries"][0]["last_status"] == 204
        assert post["headers"]["X-Dedup-Delivery"] == str(log["deliveries"][0]["id"])


def _wait_delivered(client: TestClient, watch_id: int) -> dict:
    for _ in range(100):
        log = client.get(f"/v1/watches/{watch_id}/deliveries").json()
        if log["deliveries"] and log["deliveries"][0]["status"] == "delivered":
            return log
        threading.Event().wait(0.05)
    raise AssertionError(f"not delivered: {log}")


def test_every_kind_of_watch_fires_and_an_owner_is_not_alerted_about_itself(engine):
    with receiver() as target:
        first = engine.ingest(ArticleIn(url="https://mine.example/news/1", text=STORY, source="mine"))
        by_kind = {kind: engine.watches.add(kind, value, target.url) for kind, value in [
            ("article", first.id), ("cluster", first.cluster_id), ("source", "mine"),
            ("url_prefix", "https://mine.example/news/")]}
        engine.ingest(ArticleIn(url="https://mine.example/news/2", text=STORY + "（更新）", source="mine"))
        engine.ingest(ArticleIn(url="https://far.example/1", text=THIRD, source="far"))  # a new story
        _drain(engine)
        own = {p["json"]["watch"]["kind"] for p in target.received}
        assert own == {"article", "cluster"}  # the owner's own second copy is no repost of theirs
        engine.ingest(ArticleIn(url="https://copy.example/1", text=STORY + "（转载）", source="copier"))
        _drain(engine)
        kinds = sorted(p["json"]["watch"]["kind"] for p in target.received[2:])
        assert kinds == ["article", "cluster", "source", "url_prefix"]
        assert {p["json"]["duplicate_of"]["id"] for p in target.received[2:]} <= {first.id, first.id + 1}
        assert all(w.id for w in by_kind.values())


def test_a_rolled_back_ingest_leaves_no_alert_and_sends_none(engine):
    with receiver() as target:
        first = engine.ingest(ArticleIn(url="https://mine.example/1", text=STORY))
        watch = engine.watches.add("article", first.id, target.url)
        with pytest.raises(RuntimeError), engine.writing():
            engine.ingest(ArticleIn(url="https://copy.example/1", text=STORY + "（转载）"))
            raise RuntimeError("the transaction fails after the article and its alert were written")
        _drain(engine)
        assert target.received == [] and engine.watches.deliveries(watch.id) == []
        with pytest.raises(NotFound):
            engine.get_article_by_url("https://copy.example/1")


def test_a_failing_target_is_retried_with_backoff_then_dead_lettered_and_can_be_requeued(backend):
    backend = backend.model_copy(update={"alert_max_attempts": 3})
    eng = Engine(backend)
    try:
        with receiver(status=500) as target:
            first = eng.ingest(ArticleIn(url="https://mine.example/1", text=STORY))
            watch = eng.watches.add("article", first.id, target.url)
            eng.ingest(ArticleIn(url="https://copy.example/1", text=STORY + "（转载）"))
            _drain(eng)
            assert [p["headers"]["X-Dedup-Attempt"] for p in target.received] == ["1", "2", "3"]
            (dead,) = eng.watches.deliveries(watch.id)
            assert dead["status"] == "dead" and dead["attempts"] == 3 and dead["last_status"] == 500
            assert eng.watches.deliveries(watch.id, status="pending") == []
            target.status = 200
            eng.watches.retry(watch.id, dead["id"])
            _drain(eng)
            assert eng.watches.deliveries(watch.id)[0]["status"] == "delivered" and len(target.received) == 4
    finally:
        eng.close()


def test_backoff_grows_exponentially_with_jitter_and_is_capped(tmp_path):
    from dedup.settings import Settings

    sender = AlertSender(None, Settings(database_url=str(tmp_path / "x.db"), alert_backoff=2,  # type: ignore[arg-type]
                                        alert_backoff_max=60))
    waits = [[sender.backoff(n).total_seconds() for _ in range(50)] for n in (1, 2, 3, 10)]
    assert all(1.0 <= w <= 2.0 for w in waits[0]) and all(2.0 <= w <= 4.0 for w in waits[1])
    assert all(4.0 <= w <= 8.0 for w in waits[2]) and all(30.0 <= w <= 60.0 for w in waits[3])
    assert len(set(waits[2])) > 1  # jittered


def test_targets_must_be_public_http_urls_unless_internal_ones_are_allowed(tmp_path):
    from dedup.settings import Settings

    strict = Engine(Settings(database_url=str(tmp_path / "strict.db")))
    try:
        first = strict.ingest(ArticleIn(url="https://mine.example/1", text=STORY))
        for target, message in [("http://127.0.0.1:9/hook", "loopback or private"),
                                ("http://10.1.2.3/hook", "loopback or private"),
                                ("http://[::1]/hook", "loopback or private"),
                                ("http://169.254.169.254/latest", "loopback or private"),
                                ("ftp://example.com/x", "only http"), ("javascript:alert(1)", "only http")]:
            with pytest.raises(InvalidWatch, match=message):
                strict.watches.add("article", first.id, target)
        assert strict.watches.list() == []
    finally:
        strict.close()


def test_watch_crud_paging_and_errors_over_http(backend):
    backend = backend.model_copy(update={"api_key": "k" * 20})
    auth = {"Authorization": "Bearer " + "k" * 20}
    with receiver() as target, TestClient(create_app(backend)) as client:
        assert client.get("/v1/watches").status_code == 401
        ids = [client.post("/v1/watches", headers=auth, json={"kind": "source", "value": f"site{i}",
                                                                "target_url": target.url}).json()["id"]
               for i in range(3)]
        page = client.get("/v1/watches", headers=auth, params={"limit": 2}).json()
        assert [w["id"] for w in page["watches"]] == ids[:2] and page["next_cursor"]
        rest = client.get("/v1/watches", headers=auth, params={"limit": 2, "cursor": page["next_cursor"]}).json()
        assert [w["id"] for w in rest["watches"]] == ids[2:] and rest["next_cursor"] is None
        bad = client.get("/v1/watches", headers=auth, params={"cursor": "nonsense"})
        assert bad.status_code == 422 and "cursor" in bad.json()["error"]["message"]
        changed = client.patch(f"/v1/watches/{ids[0]}", headers=auth, json={"active": False, "new_secret": True})
        assert changed.status_code == 200 and changed.json()["active"] is False and changed.json()["secret"]
        assert client.delete(f"/v1/watches/{ids[1]}", headers=auth).status_code == 204
        gone = client.get(f"/v1/watches/{ids[1]}", headers=auth)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        assert client.get(f"/v1/watches/{ids[1]}/deliveries", headers=auth).status_code == 404
        private = client.post("/v1/watches", headers=auth, json={"kind": "source", "value": "x",
                                                                  "target_url": "file:///etc/passwd"})
        assert private.status_code == 422 and private.json()["error"]["code"] == "invalid_watch"
        missing = client.post("/v1/watches", headers=auth, json={"kind": "article", "value": "https://no.example/",
                                                                  "target_url": target.url})
        assert missing.status_code == 404
        unknown = client.post("/v1/watches", headers=auth, json={"kind": "planet", "value": "x",
                                                                  "target_url": target.url})
        assert unknown.status_code == 422


def test_a_paused_watch_records_and_sends_nothing(engine):
    with receiver() as target:
        first = engine.ingest(ArticleIn(url="https://mine.example/1", text=STORY))
        watch = engine.watches.add("article", first.id, target.url)
        engine.watches.update(watch.id, active=False)
        engine.ingest(ArticleIn(url="https://copy.example/1", text=STORY + "（转载）"))
        _drain(engine)
        assert target.received == [] and engine.watches.deliveries(watch.id) == []


def test_several_senders_post_each_alert_exactly_once(engine):
    with receiver(delay=0.05) as target:
        first = engine.ingest(ArticleIn(url="https://mine.example/1", text=STORY))
        engine.watches.add("article", first.id, target.url)
        for i in range(12):
            engine.ingest(ArticleIn(url=f"https://copy.example/{i}", text=STORY + f"（转载{i}）"))
        stores = [open_store(engine.settings.database_url) for _ in range(3)]
        try:
            senders = [AlertSender(store, engine.settings) for store in stores]
            threads = [threading.Thread(target=lambda s=s: [s.send_due(limit=2) for _ in range(10)])
                       for s in senders]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            for store in stores:
                store.close()
        ids = [p["headers"]["X-Dedup-Delivery"] for p in target.received]
        assert len(ids) == 12 and len(set(ids)) == 12


def test_watches_and_sending_from_the_command_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dedup.cli.commands import app as cli

    runner = CliRunner()
    db = str(tmp_path / "cli.db")
    (tmp_path / "a.txt").write_text(STORY, encoding="utf-8")
    assert runner.invoke(cli, ["ingest", str(tmp_path / "a.txt"), "--db", db]).exit_code == 0
    with receiver() as target:
        refused = runner.invoke(cli, ["watch", "add", "article", "1", "--target", target.url, "--db", db])
        assert refused.exit_code == 1 and "loopback or private" in refused.output
        monkeypatch.setenv("DEDUP_ALERTS_ALLOW_PRIVATE", "true")
        made = runner.invoke(cli, ["watch", "add", "article", "1", "--target", target.url, "--json", "--db", db])
        assert made.exit_code == 0, made.output
        secret = json.loads(made.output)["secret"]
        assert "article 1 -> " + target.url in runner.invoke(cli, ["watch", "list", "--db", db]).output
        (tmp_path / "b.txt").write_text(STORY + "（转载）", encoding="utf-8")
        runner.invoke(cli, ["ingest", str(tmp_path / "b.txt"), "--db", db])
        assert target.received == []  # `dedup ingest` queues; a server or `dedup alerts send` posts
        sent = runner.invoke(cli, ["alerts", "send", "--db", db])
        assert sent.exit_code == 0 and "1 delivered" in sent.output
        (post,) = target.received
        assert post["headers"]["X-Dedup-Signature"] == sign(secret, post["body"])
        log = runner.invoke(cli, ["watch", "deliveries", "1", "--db", db])
        assert "delivered, article 2, 1 attempts, last answer 204" in log.output
        assert runner.invoke(cli, ["watch", "remove", "1", "--db", db]).exit_code == 0
        gone = runner.invoke(cli, ["watch", "show", "1", "--db", db])
        assert gone.exit_code == 1 and "no watch with id 1" in gone.output


def test_hostile_values_are_refused_with_a_message_not_a_server_error(backend):
    with TestClient(create_app(backend)) as client:
        for kind, value in [("article", "9" * 30), ("article", "https://a.example/\x00"), ("source", "a\x00b"),
                            ("cluster", "12x"), ("cluster", "9" * 30)]:
            answer = client.post("/v1/watches", json={"kind": kind, "value": value,
                                                      "target_url": "http://127.0.0.1:9/h"})
            assert answer.status_code in (404, 422), (kind, value, answer.text)
            assert answer.json()["error"]["message"]


def test_posts_go_to_the_checked_address_and_redirects_are_not_followed(tmp_path, monkeypatch):
    """The name is resolved once and checked; the connection goes to that address (a DNS answer changing after
    the check cannot redirect the post), and a 3xx is a failed attempt, not a hop to an unchecked place."""
    import dedup.ops.alerts as alerts
    from dedup.settings import Settings

    resolved = []

    def fake_resolve(host: str):  # type: ignore[no-untyped-def]
        resolved.append(host)
        return [alerts.ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(alerts, "_addresses", fake_resolve)
    eng = Engine(Settings(database_url=str(tmp_path / "pin.db"), alerts_allow_private=True))
    try:
        with receiver() as target:
            port = target.url.split(":")[2].split("/")[0]
            first = eng.ingest(ArticleIn(url="https://mine.example/1", text=STORY))
            watch = eng.watches.add("article", first.id, f"http://hooks.test:{port}/hook")
            eng.ingest(ArticleIn(url="https://copy.example/1", text=STORY + "（转载）"))
            assert AlertSender(eng.store, eng.settings).send_due()["delivered"] == 1
            (post,) = target.received
            assert post["headers"]["Host"] == f"hooks.test:{port}" and resolved[-1] == "hooks.test"
            target.status = 302
            eng.ingest(ArticleIn(url="https://copy.example/2", text=STORY + "（再转载）"))
            assert AlertSender(eng.store, eng.settings).send_due()["retry"] == 1
            assert eng.watches.deliveries(watch.id)[0]["last_error"] == "HTTP 302"
    finally:
        eng.close()
