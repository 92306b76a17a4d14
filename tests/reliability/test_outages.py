"""Outages: Redis stopped mid-run (our own redis-server, never the shared one) and PostgreSQL unreachable at
start-up. What users see: 503 with a clear message, nothing acknowledged lost, recovery without a restart."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from dedup.settings import Settings
from tests.api_backends import pg_schema
from tests.conftest import service_url
from tests.reliability.harness import article, free_port, record, stored_count, uvicorn_process, wait_ready


class OwnRedis:
    """A private redis-server on a free loopback port, without persistence: a restart comes back empty."""

    def __init__(self, workdir: Path, *options: str) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.workdir = workdir
        self.options = options  # extra redis-server arguments, e.g. an eviction policy
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.workdir), *self.options],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("own redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def own_redis(workdir: Path, *options: str) -> Iterator[OwnRedis]:
    server = OwnRedis(workdir, *options)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _post_until(client: httpx.Client, stop: threading.Event, out: list[tuple[dict, int, dict]]) -> None:
    """Ingest one new article after another until told to stop; every answer is kept."""
    n = 0
    while not stop.is_set():
        item = article(n, 0, "d")
        n += 1
        try:
            r = client.post("/v1/articles", json=item)
            out.append((item, r.status_code, r.json()))
        except httpx.TransportError as exc:  # never expected: the server must answer
            out.append((item, 0, {"transport": str(exc)}))


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "unavailable" and "Redis" in error["message"], error


@contextmanager
def served_with_own_redis(tmp_path: Path, prefix: str) -> Iterator[tuple[httpx.Client, OwnRedis, str]]:
    """A real server on PostgreSQL (a private schema) and this test's own Redis; its log must hold no traceback."""
    with pg_schema(service_url("DEDUP_TEST_DATABASE_URL")) as db, own_redis(tmp_path) as redis:
        settings = Settings(database_url=db, redis_url=redis.url, redis_prefix=prefix)
        with uvicorn_process(settings, tmp_path / "server.log") as (client, proc):
            wait_ready(client, lambda: proc.poll() is None, tmp_path / "server.log")
            yield client, redis, db
        assert "Traceback" not in (tmp_path / "server.log").read_text(errors="replace")


def test_redis_stopped_mid_run(tmp_path):
    with served_with_own_redis(tmp_path, "outage") as (client, redis, db):
        before = [article(seed, 0, "o") for seed in range(20)]
        acked = [client.post("/v1/articles", json=a) for a in before]
        assert all(r.status_code == 201 for r in acked)

        during: list[tuple[dict, int, dict]] = []
        stop = threading.Event()
        sender = threading.Thread(target=_post_until, args=(client, stop, during))
        sender.start()
        time.sleep(0.5)
        redis.kill()  # mid-stream: one ingest is in flight, the next ones meet the outage
        time.sleep(1.5)
        stop.set()
        sender.join(timeout=120)
        statuses = {status for _, status, _ in during}
        assert statuses == {201, 503}, [(i["url"], s) for i, s, _ in during]
        assert all("Redis" in body["error"]["message"] for _, status, body in during if status == 503)

        stored_before = stored_count(db)
        _unavailable(client.post("/v1/articles", json=article(99, 0, "x")))
        _unavailable(client.post("/v1/articles:batch", json={"articles": [article(98, 0, "x")]}))
        _unavailable(client.post("/v1/duplicates/search", json={"text": before[0]["text"]}))
        assert client.get("/readyz").status_code == 503
        assert stored_count(db) == stored_before, "a refused ingest left rows behind"
        assert client.get("/v1/articles", params={"url": "https://x99.example/0"}).status_code == 404
        assert client.get(f"/v1/articles/{acked[0].json()['id']}").status_code == 200  # reads still work

        redis.start()  # back, and empty: the next request heals the index from the database
        repost = client.post("/v1/articles", json={"url": "https://r.example/1", "text": before[3]["text"] + "（来源：人民网）"})
        assert repost.status_code == 201, repost.text
        assert repost.json()["cluster_id"] == acked[3].json()["cluster_id"]
        assert client.get("/readyz").status_code == 200

        confirmed = [a.json() for a in acked] + [body for _, status, body in during if status == 201]
        for body in confirmed:
            got = client.get("/v1/articles", params={"url": body["url"]})
            assert got.status_code == 200 and got.json()["id"] == body["id"]
        assert client.post("/v1/admin/check").json()["added"] == 0
    record("outage_redis", acknowledged=len(confirmed), found=len(confirmed),
           refused_503=sum(status == 503 for _, status, _ in during) + 3,
           other_5xx=sum(status >= 500 and status != 503 for _, status, _ in during))


def test_redis_restarted_empty_between_requests_is_noticed_and_healed(tmp_path):
    """No request meets the outage, so nothing tells the worker; the marker read with every lookup does."""
    with served_with_own_redis(tmp_path, "restart") as (client, redis, _db):
        originals = [client.post("/v1/articles", json=article(seed, 0, "e")) for seed in range(5)]
        assert all(r.status_code == 201 for r in originals)
        redis.kill()
        redis.start()  # back at once, empty
        repost = {"url": "https://r.example/2", "text": article(2, 0, "e")["text"] + "（来源：人民网）"}
        lost = client.post("/v1/articles", json=repost)
        assert lost.status_code == 503 and "lost its contents" in lost.json()["error"]["message"], lost.text
        assert client.get("/v1/articles", params={"url": repost["url"]}).status_code == 404  # nothing stored
        healed = client.post("/v1/articles", json=repost)
        assert healed.status_code == 201, healed.text
        assert healed.json()["cluster_id"] == originals[2].json()["cluster_id"]
        report = client.post("/v1/admin/check").json()
        assert (report["indexed"], report["added"], report["removed"], report["repaired"]) == (6, 0, 0, 0)


class LateListener:
    """A TCP port that refuses connections until `open_after()` says so, then forwards to PostgreSQL."""

    def __init__(self, target: tuple[str, int], open_after) -> None:  # type: ignore[no-untyped-def]
        self.port = free_port()
        self.target = target
        self.open_after = open_after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.open_after() and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_server(("127.0.0.1", self.port)) as server:
            server.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self.target)
                for a, b in ((conn, upstream), (upstream, conn)):
                    threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._stop.set()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _pg_target(url: str) -> tuple[str, int]:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.host or "127.0.0.1", parsed.port or 5432


def test_postgres_unreachable_at_start_up_retries_then_serves(tmp_path):
    """The database appears after the server has retried twice: clear lines while it waits, then it serves."""
    base = service_url("DEDUP_TEST_DATABASE_URL")
    log_path = tmp_path / "late.log"
    log_path.touch()
    with pg_schema(base) as db:
        late = LateListener(_pg_target(db), lambda: log_path.read_text(errors="replace").count("retrying in") >= 2)
        host, port = _pg_target(db)
        url = db.replace(f"{host}:{port}", f"127.0.0.1:{late.port}")
        settings = Settings(database_url=url, redis_url=None)
        try:
            with uvicorn_process(settings, tmp_path / "late.log", DEDUP_STARTUP_WAIT="60") as (client, proc):
                wait_ready(client, lambda: proc.poll() is None, tmp_path / "late.log")
                assert client.post("/v1/articles", json=article(1, 0)).status_code == 201
        finally:
            late.close()
        log = (tmp_path / "late.log").read_text(errors="replace")
        assert "is unreachable" in log and "retrying in" in log, log
        assert "Traceback" not in log, log
        record("outage_postgres_late", retries=log.count("retrying in"))


def test_postgres_never_reachable_exits_cleanly(tmp_path):
    """Nothing listens: retries with a clear line each, then exit status 3 and a last line saying why."""
    settings = Settings(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/test", redis_url=None)
    with uvicorn_process(settings, tmp_path / "down.log", DEDUP_STARTUP_WAIT="3") as (_, proc):
        assert proc.wait(timeout=120) == 3
    log = (tmp_path / "down.log").read_text(errors="replace")
    assert log.count("retrying in") >= 2, log
    assert "start-up failed: the database at postgresql://postgres@127.0.0.1" in log and "gave up" in log, log
    assert "Traceback" not in log, log
