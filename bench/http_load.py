"""HTTP benchmark: ingest and lookup latency (p50/p99) and throughput with many articles already stored.

    .venv/bin/python bench/http_load.py --articles 100000                      # SQLite + in-process index
    .venv/bin/python bench/http_load.py --articles 100000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/test --redis-url redis://127.0.0.1:6379/15

The stored corpus is synthetic: articles of 6-14 sentences drawn from the dev set's sentences, so they are
distinct stories of realistic length and vocabulary. It is written straight through the store (signatures
and singleton clusters, as ingest would leave them) because pushing 100k articles through HTTP first would
take longer than the measurement. Then one uvicorn worker starts on that data (healing its index at start-up),
and the client sends: new articles (a fifth of them reposts of stored ones) to POST /v1/articles, and
reposts of stored articles to POST /v1/duplicates/search. Client and server share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the standard
# library's `http` package (which httpx needs); put the project root there instead.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from dedup.clusters.bookkeeping import summarize  # noqa: E402
from dedup.engine import Engine  # noqa: E402
from dedup.models import Article  # noqa: E402
from dedup.settings import Settings  # noqa: E402
from dedup.store.migrate import upgrade  # noqa: E402

_SENTENCE = re.compile(r"[^。！？\n]+[。！？]?")
_EDITS = ("（责任编辑：王五）", "图为现场。", "据新华社报道，", "（来源：人民网）", "更多内容请关注本网。")


def sentence_pool(path: Path) -> list[str]:
    pool = set()
    for line in path.open(encoding="utf-8"):
        text = json.loads(line).get("text") or ""
        pool.update(s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) >= 15)
    return sorted(pool)


def synthetic(pool: list[str], rng: random.Random) -> str:
    return "".join(rng.sample(pool, rng.randint(6, 14)))


def repost(text: str, rng: random.Random) -> str:
    return rng.choice(_EDITS) + text if rng.random() < 0.5 else text + rng.choice(_EDITS)


def preload(settings: Settings, texts: list[str], batch: int = 2_000) -> float:
    """Store articles, signatures and singleton clusters directly; returns seconds taken."""
    start = time.perf_counter()
    upgrade(settings.database_url)
    engine = Engine(settings, rebuild=False)
    stamp = "2026-01-01T00:00:00.000000+00:00"
    for first in range(0, len(texts), batch):
        with engine.store.transaction():
            for i, text in enumerate(texts[first:first + batch], start=first):
                p = engine.prepare(text)
                a = Article(id=0, url=f"https://stored.example/{i}", title=None, source=None, published_at=None,
                            ingested_at=stamp, raw_text=text, norm_text=p.normalized.text, content_hash=p.content_hash,
                            cluster_id=None, sig_version=engine.version, hashvalues=p.values.tobytes(),
                            shingle_count=len(p.shingles))
                engine.store.add_article(a)
                engine.store.set_cluster([a.id], a.id)
                engine.store.save_cluster(summarize(a.id, [a]))
        print(f"  stored {min(first + batch, len(texts))}/{len(texts)}", file=sys.stderr, flush=True)
    engine.close()
    return time.perf_counter() - start


def _stored_count(settings: Settings) -> int:
    upgrade(settings.database_url)
    engine = Engine(settings, rebuild=False)
    try:
        return engine.store.counts()["articles"]
    finally:
        engine.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(settings: Settings, log: Path) -> tuple[subprocess.Popen, str, float]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUP_")}
    env.update(DEDUP_DATABASE_URL=settings.database_url, DEDUP_REDIS_PREFIX=settings.redis_prefix)
    if settings.redis_url:
        env["DEDUP_REDIS_URL"] = settings.redis_url
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"],
                            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            sys.exit(f"server exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                return proc, base, time.perf_counter() - start
        except httpx.TransportError:
            time.sleep(0.2)


def timed(client: httpx.Client, method: str, path: str, body: dict) -> float:
    start = time.perf_counter()
    r = client.request(method, path, json=body)
    elapsed = time.perf_counter() - start
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:200]}")
    return elapsed


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "mean_ms": round(statistics.fmean(ms), 2)}


def sequential(base: str, requests: list[tuple[str, str, dict]]) -> dict:
    with httpx.Client(base_url=base, timeout=60) as client:
        for method, path, body in requests[:20]:  # warm-up: connections, caches, jieba
            timed(client, method, path, body)
        start = time.perf_counter()
        samples = [timed(client, method, path, body) for method, path, body in requests[20:]]
        seconds = time.perf_counter() - start
    return {**percentiles(samples), "requests": len(samples), "per_second": round(len(samples) / seconds, 1)}


def concurrent(base: str, requests: list[tuple[str, str, dict]], workers: int) -> dict:
    samples: list[float] = []
    lock = threading.Lock()
    chunks = [requests[i::workers] for i in range(workers)]

    def run(chunk: list[tuple[str, str, dict]]) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            mine = [timed(client, m, p, b) for m, p, b in chunk]
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    return {**percentiles(samples), "requests": len(samples), "clients": workers,
            "per_second": round(len(samples) / seconds, 1)}


def workload(pool: list[str], stored: list[str], n: int, rng: random.Random, tag: str) -> dict[str, list]:
    ingest = []
    for i in range(n):
        text = repost(rng.choice(stored), rng) if i % 5 == 0 else synthetic(pool, rng)
        ingest.append(("POST", "/v1/articles", {"url": f"https://new.example/{tag}/{i}", "text": text}))
    lookup = [("POST", "/v1/duplicates/search", {"text": repost(rng.choice(stored), rng)}) for _ in range(n)]
    by_url = [("GET", f"/v1/duplicates?url=https://stored.example/{rng.randrange(len(stored))}", {})
              for _ in range(n)]
    return {"ingest": ingest, "lookup": lookup, "by_url": by_url}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000, help="Articles stored before measuring")
    parser.add_argument("--requests", type=int, default=1_000, help="Requests per measured operation")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent clients in the throughput run")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--redis-url", default=None, help="Redis URL for the shared index")
    parser.add_argument("--sqlite", type=Path, default=None,
                        help="Keep the SQLite file here and reuse it when it already holds the articles")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="Also write the report here")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    pool = sentence_pool(ROOT / "eval" / "zh_dev.jsonl")
    stored = [synthetic(pool, rng) for _ in range(args.articles)]
    with tempfile.TemporaryDirectory() as tmp:
        settings, cleanup = _settings(args, Path(tmp))
        try:
            report = _run(args, settings, pool, stored, rng, Path(tmp))
        finally:
            cleanup()
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def _settings(args: argparse.Namespace, tmp: Path):  # type: ignore[no-untyped-def]
    """SQLite in a temporary folder, or a fresh PostgreSQL schema and Redis prefix that are dropped afterwards."""
    if not args.database_url:
        return Settings(database_url=str(args.sqlite or tmp / "bench.db"), redis_url=None), lambda: None
    import redis
    import sqlalchemy as sa

    from dedup.store.sql import database_url

    schema, prefix = f"bench_{uuid.uuid4().hex[:10]}", f"dedup-bench-{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(database_url(args.database_url))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in args.database_url else "?"
    url = f"{args.database_url}{joiner}options=-csearch_path%3D{schema}"

    def cleanup() -> None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if args.redis_url:
            client = redis.Redis.from_url(args.redis_url)
            keys = list(client.scan_iter(match=f"{prefix}*", count=5000))
            for i in range(0, len(keys), 1000):
                client.delete(*keys[i:i + 1000])

    return Settings(database_url=url, redis_url=args.redis_url, redis_prefix=prefix), cleanup


def _run(args, settings: Settings, pool: list[str], stored: list[str], rng: random.Random, tmp: Path) -> dict:  # type: ignore[no-untyped-def]
    backend = "postgresql+redis" if settings.redis_url else ("postgresql" if args.database_url else "sqlite")
    print(f"preloading {len(stored)} articles ({backend})", file=sys.stderr)
    load_s = 0.0
    if _stored_count(settings) < len(stored):
        load_s = preload(settings, stored)
    proc, base, start_s = start_server(settings, tmp / "server.log")
    try:
        run = uuid.uuid4().hex[:8]  # fresh URLs, so that a reused database still sees new articles
        seq = workload(pool, stored, args.requests + 20, rng, f"{run}-seq")
        par = workload(pool, stored, args.requests, rng, f"{run}-par")
        report = {"backend": backend, "stored": len(stored), "preload_seconds": round(load_s, 1),
                  "server_start_seconds": round(start_s, 1), "cpus": os.cpu_count()}
        for name in ("ingest", "lookup", "by_url"):
            report[name] = sequential(base, seq[name])
            report[f"{name}_concurrent"] = concurrent(base, par[name], args.clients)
            print(f"  {name}: {report[name]}", file=sys.stderr, flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return report


if __name__ == "__main__":
    main()
