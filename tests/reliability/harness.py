"""What the reliability tests share: a real server they can kill, generated stories and reposts, figures.

Counts are small in CI and full with DEDUP_FULL_RELIABILITY=1 (`full(ci, full)`); docs/reliability.md lists
both. Figures are printed and, when DEDUP_RELIABILITY_FIGURES names a file, appended to it as JSON lines.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from dedup.settings import Settings
from dedup.store.sql import database_url
from tests.servers import stop

ROOT = Path(__file__).resolve().parents[2]
FULL = os.environ.get("DEDUP_FULL_RELIABILITY") == "1"
_POOL = [chr(c) for c in range(0x4E00, 0x9FA5)]
_EDGES = ["图为会议现场。", "（责任编辑：王五）", "据本台报道，", "（来源：人民网）", "（记者 张三 李四）"]


def full(ci: int, complete: int) -> int:
    """The CI-sized count, or the full one when DEDUP_FULL_RELIABILITY=1."""
    return complete if FULL else ci


def record(name: str, **figures: object) -> None:
    """Print the figures of a run (pytest -s shows them) and append them to DEDUP_RELIABILITY_FIGURES."""
    line = json.dumps({"test": name, "full": FULL, **figures}, ensure_ascii=False)
    print(f"\nFIGURES {line}")
    target = os.environ.get("DEDUP_RELIABILITY_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def story(seed: int) -> str:
    """A 160-character story no other seed shares (random CJK characters: Jaccard between stories ~0)."""
    rng = random.Random(seed)
    return "".join(rng.choice(_POOL) for _ in range(160))


def repost(seed: int, variant: int) -> str:
    """Variant 0 is the story itself; others add a caption or footer at an edge, as reposts do."""
    if variant == 0:
        return story(seed)
    edge = _EDGES[variant % len(_EDGES)]
    return edge + story(seed) if variant % 2 else story(seed) + edge


def article(seed: int, variant: int, prefix: str = "s") -> dict:
    return {"url": f"https://{prefix}{seed}.example/{variant}", "text": repost(seed, variant)}


def story_of(url: str) -> int:
    """The story seed of a generated URL."""
    return int(url.split("://", 1)[1].split(".", 1)[0].lstrip("abcdefghijklmnopqrstuvwxyz"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a server configured like production: only DEDUP_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUP_")}
    env.update(DEDUP_DATABASE_URL=settings.database_url, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    if settings.redis_url:
        env.update(DEDUP_REDIS_URL=settings.redis_url, DEDUP_REDIS_PREFIX=settings.redis_prefix)
    if settings.api_key:
        env["DEDUP_API_KEY"] = settings.api_key
    env.update(extra)
    return env


def wait_ready(client: httpx.Client, alive, log: Path, timeout: float = 90) -> float:  # type: ignore[no-untyped-def]
    """Seconds until /readyz answers 200; fails with the server log if it dies or never gets ready."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not alive():
            pytest.fail(f"server exited:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            if client.get("/readyz", timeout=5).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"server not ready in {timeout} s:\n{log.read_text(errors='replace')[-4000:]}")


class Launcher:
    """Starts servers by forking from a warm launcher process (tests/reliability/server.py); kills them hard."""

    def __init__(self, settings: Settings, log: Path, **extra_env: str) -> None:
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("server.py"))], cwd=ROOT,
                                     env=server_env(settings, **extra_env), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._out, text=True)
        if self.proc.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            pytest.fail(f"launcher failed:\n{log.read_text(errors='replace')[-4000:]}")
        self.pid: int | None = None
        self.port = free_port()
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)

    def start(self) -> float:
        """Fork a fresh server and wait until it is ready; returns the seconds that took."""
        self.proc.stdin.write(f"start {self.port}\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        self.pid = int(self.proc.stdout.readline())  # type: ignore[union-attr]
        return wait_ready(self.client, self._alive, self.log)

    def _alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no goodbye."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _wait_gone(self.pid)
            self.pid = None

    def close(self) -> None:
        self.kill()
        self.client.close()
        if self.proc.poll() is None:
            self.proc.stdin.write("exit\n")  # type: ignore[union-attr]
            self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def _wait_gone(pid: int, timeout: float = 10) -> None:
    """A killed child stays a zombie until the launcher reaps it; its port is free once it is gone or a zombie."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(")")[-1].split()[0] in ("Z", "X"):
                    return
        except FileNotFoundError:
            return
        time.sleep(0.01)


@contextmanager
def launcher(settings: Settings, log: Path, **extra_env: str) -> Iterator[Launcher]:
    launch = Launcher(settings, log, **extra_env)
    try:
        yield launch
    finally:
        launch.close()


@contextmanager
def uvicorn_process(settings: Settings, log: Path, workers: int = 1,
                    **extra_env: str) -> Iterator[tuple[httpx.Client, subprocess.Popen]]:
    """A plain `uvicorn` process (not forked), for the last restart, start-up behaviour and load."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host",
                                 "127.0.0.1", "--port", str(port), "--log-level", "info", "--no-access-log",
                                 "--workers", str(workers)], cwd=ROOT,
                                env=server_env(settings, **extra_env), stdout=out, stderr=subprocess.STDOUT)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        try:
            yield client, proc
        finally:
            client.close()
            stop(proc)


def integrity(url: str) -> dict[str, int]:
    """Half-written state straight from the database: each count must be 0."""
    queries = {
        "articles_without_signature": "SELECT count(*) FROM articles a LEFT JOIN signatures s "
                                      "ON s.article_id = a.id WHERE s.article_id IS NULL",
        "articles_without_cluster": "SELECT count(*) FROM articles a LEFT JOIN clusters c ON c.id = a.cluster_id "
                                    "WHERE c.id IS NULL",
        "clusters_with_wrong_size": "SELECT count(*) FROM clusters c WHERE c.size <> "
                                    "(SELECT count(*) FROM articles a WHERE a.cluster_id = c.id)",
        "clusters_with_foreign_representative": "SELECT count(*) FROM clusters c LEFT JOIN articles a "
                                                "ON a.id = c.representative_id AND a.cluster_id = c.id "
                                                "WHERE a.id IS NULL",
        "signatures_without_article": "SELECT count(*) FROM signatures s LEFT JOIN articles a "
                                      "ON a.id = s.article_id WHERE a.id IS NULL",
        "empty_normalized_texts": "SELECT count(*) FROM articles WHERE norm_text = ''",
    }
    engine = sa.create_engine(database_url(url))
    try:
        with engine.connect() as conn:
            return {name: conn.execute(sa.text(sql)).scalar() or 0 for name, sql in queries.items()}
    finally:
        engine.dispose()


def stored_count(url: str) -> int:
    engine = sa.create_engine(database_url(url))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM articles")).scalar() or 0
    finally:
        engine.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def cluster_invariants(url: str) -> dict[str, int]:
    """Every cluster invariant, straight from the database (independent of `dedup.clusters.upkeep`): each count must be
    0.

    A cluster's size is its member count, its representative is a member and the earliest one (published,
    else ingested: `rep_key`), no cluster row is empty, no id is negative, every article is in a stored
    cluster, and no alias shadows a live cluster id.
    """
    from dedup.clusters.bookkeeping import rep_key

    engine = sa.create_engine(database_url(url))
    try:
        with engine.connect() as conn:
            arts = conn.execute(sa.text("SELECT id, cluster_id, published_at FROM articles")).all()
            rows = {r[0]: (r[1], r[2]) for r in conn.execute(sa.text(
                "SELECT id, representative_id, size FROM clusters")).all()}
            aliases = [r[0] for r in conn.execute(sa.text("SELECT old_id FROM cluster_aliases")).all()]
    finally:
        engine.dispose()
    members: dict[int | None, list[tuple[int, str | None]]] = {}
    for article_id, cluster_id, published in arts:
        members.setdefault(cluster_id, []).append((article_id, published))
    earliest = {c: min(m, key=lambda a: rep_key(a[1], a[0]))[0] for c, m in members.items() if c is not None}
    return {
        "articles_without_cluster": sum(len(m) for c, m in members.items() if c is None or c not in rows),
        "empty_clusters": sum(c not in members for c in rows),
        "clusters_with_wrong_size": sum(c in members and size != len(members[c]) for c, (_, size) in rows.items()),
        "clusters_with_foreign_representative": sum(
            c in members and rep not in {a for a, _ in members[c]} for c, (rep, _) in rows.items()),
        "representatives_not_earliest": sum(c in earliest and rep != earliest[c] for c, (rep, _) in rows.items()),
        "negative_cluster_ids": sum(c < 0 for c in rows) + sum(c is not None and c < 0 for _, c, _ in arts),
        "aliases_shadowing_clusters": sum(a in rows for a in aliases),
    }
