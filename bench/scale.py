"""Scale benchmark: ingest cost, candidates and lookup latency by stored-count window, up to a million articles.

    python bench/scale.py ingest --db /work/wt/scale-run/scale.db --articles 1000000 --window 50000 \\
        --out /work/wt/scale-run/scale.jsonl          # resumable: a second run continues where the store ends
    python bench/scale.py finish --db /work/wt/scale-run/scale.db --out /work/wt/scale-run/finish.json \\
        [--redis-url redis://127.0.0.1:6379/6]

`ingest` pushes bench/http_load.py's synthetic articles (6-14 dev-set sentences, ~500 characters; every fifth a
repost of a recent one) through `Engine.ingest_many` in batches of 500, as `dedup ingest` does, on SQLite with the
in-process index, and writes one JSON line per window of stored articles: CPU and wall time per article, band
candidates per lookup before and after the bound (dedup.candidates.bound), containment candidates, text lookup latency
in process (reposts of recent articles), the process's RSS, the database's bytes, and the load average (the machine
is shared: CPU time, not wall time, is the figure to compare).

`growth` compares the CPU per article at two store sizes side by side: each run ingests the same stream (after a
warm-up) into a fresh copy of a ~50k and of a ~1M store made by `ingest`, once per setting (environment variables,
such as the band layouts), in turn; `window` is one such measurement (`--profile` writes a cProfile of it):

    python bench/scale.py growth --small RUN/s50k.db --large RUN/s1m.db --articles 20000 --warm 2000 --runs 2 \
        --setting "0.2 only:DEDUP_LSH_THRESHOLD=0.2,DEDUP_SHORT_TEXT_SHINGLES=0" --setting "default:" \
        --out RUN/growth.json

`jobs` times `dedup ingest --jobs 1` against `--jobs 2` on one 50k-article stream of the same generator and
checks that both give the same clusters:

    python bench/scale.py jobs --articles 50000 --jobs 2 --out /work/wt/scale-run/jobs.json

`finish` measures what needs the whole store: text lookup over HTTP (one uvicorn worker on the same SQLite file),
the in-process index's memory (RSS growth of a fresh process filling it from the store), and, with a Redis URL,
the shared index's Redis memory per article (a sample of the store's signatures loaded under a throw-away prefix).
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import http_load  # noqa: E402  (puts the project root on sys.path)
import numpy as np  # noqa: E402

from dedup.candidates.layouts import describe  # noqa: E402
from dedup.engine import Engine  # noqa: E402
from dedup.models import ArticleIn  # noqa: E402
from dedup.settings import Settings  # noqa: E402
from dedup.store.migrate import upgrade  # noqa: E402

ROOT = http_load.ROOT
BATCH = 500
RECENT = 20_000  # reposts copy one of the last this many articles


def rss_bytes(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


class Counting:
    """Records, per lookup, the band ids found before the bound, those screened, and containment candidates."""

    def __init__(self, engine: Engine) -> None:
        self.found: list[int] = []
        self.bounded: list[int] = []
        self.contained: list[int] = []
        index, contained = engine.index, engine.index.contained
        query, contained_query = index.query, contained.query

        def counted_query(values, **kw):  # type: ignore[no-untyped-def]
            out = query(values, **kw)
            self.found.append(index.found)
            self.bounded.append(len(out))
            return out

        def counted_contained(anchors):  # type: ignore[no-untyped-def]
            out = contained_query(anchors)
            self.contained.append(len(out))
            return out

        index.query, contained.query = counted_query, counted_contained

    def window(self) -> dict:
        out = {}
        for name in ("found", "bounded", "contained"):
            values = np.array(getattr(self, name) or [0])
            out[name] = {"mean": round(float(values.mean()), 1), "p99": float(np.percentile(values, 99)),
                         "max": int(values.max())}
            getattr(self, name).clear()
        return out


def lookups(engine: Engine, texts: list[str], rng: random.Random, n: int = 200) -> dict:
    samples = []
    for _ in range(n):
        text = http_load.repost(rng.choice(texts), rng)
        start = time.perf_counter()
        engine.query_text(text)
        samples.append(time.perf_counter() - start)
    return http_load.percentiles(samples)


def articles(rng: random.Random, pool: list[str], recent: deque[str], first: int, n: int,
             host: str = "scale.example") -> list[ArticleIn]:
    """The next `n` articles of the stream: every fifth a repost of a recent one, the rest new stories."""
    items = []
    for i in range(n):
        text = http_load.repost(rng.choice(recent), rng) if i % 5 == 0 else http_load.synthetic(pool, rng)
        recent.append(text)
        items.append(ArticleIn(url=f"https://{host}/{first + i}", text=text))
    return items


def ingest(args: argparse.Namespace) -> None:
    settings = Settings(database_url=str(args.db), redis_url=None, max_band_candidates=args.bound)
    upgrade(settings.database_url)
    started = time.perf_counter()
    engine = Engine(settings)
    stored = engine.store.counts()["articles"]
    print(f"store holds {stored}; index rebuilt in {time.perf_counter() - started:.1f} s", file=sys.stderr,
          flush=True)
    rng = random.Random(args.seed + stored)
    pool = http_load.sentence_pool(ROOT / "eval" / "zh_dev.jsonl")
    recent: deque[str] = deque(maxlen=RECENT)
    recent.extend(http_load.synthetic(pool, rng) for _ in range(100))
    counting = Counting(engine)
    out = args.out.open("a")
    cpu, wall, done = time.process_time(), time.perf_counter(), 0
    while stored < args.articles:
        engine.ingest_many(articles(rng, pool, recent, stored, BATCH))
        stored += BATCH
        done += BATCH
        if stored % args.window == 0 or stored >= args.articles:
            cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
            row = {"stored": stored, "articles": done, "cpu_us_per_article": round(cpu_s / done * 1e6, 1),
                   "wall_us_per_article": round(wall_s / done * 1e6, 1), "candidates": counting.window(),
                   "rss_bytes": rss_bytes(), "db_bytes": db_bytes(args.db), "loadavg": os.getloadavg()[0],
                   "bound": args.bound}
            row["lookup_in_process"] = lookups(engine, list(recent), rng)
            counting.window()  # the lookups' own candidates do not count in the next window
            row["rss_per_article"] = round(row["rss_bytes"] / stored)
            row["db_bytes_per_article"] = round(row["db_bytes"] / stored)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(json.dumps(row), file=sys.stderr, flush=True)
            cpu, wall, done = time.process_time(), time.perf_counter(), 0
    engine.close()


def index_memory(db: Path) -> dict:
    """RSS growth of this process while it fills the in-process index (bands, signatures, anchors) from the store."""
    settings = Settings(database_url=str(db), redis_url=None)
    engine = Engine(settings, rebuild=False)
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    engine.sync_index()
    engine.known._items.clear()
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # the rebuild's freed temporaries go back to the system
    n = len(engine.index)
    grown = rss_bytes() - before
    contained = engine.index.contained.memory_bytes()
    held = engine.index.memory_bytes()  # type: ignore[union-attr]
    engine.close()
    return {"indexed": n, "seconds": round(time.perf_counter() - started, 1), "rss_growth_bytes": grown,
            "bytes_per_article": round(grown / max(n, 1)), "held_bytes_per_article": round(held / max(n, 1)),
            "containment_bytes_per_article": round(contained / max(n, 1))}


def redis_memory(db: Path, url: str, sample: int) -> dict:
    """The shared index's Redis memory per article: `sample` stored signatures and anchors under a fresh prefix."""
    import redis

    from dedup.candidates.containment import anchors
    from dedup.candidates.index import SignatureIndex
    from dedup.sketch.shingle import shingle_hashes

    settings = Settings(database_url=str(db), redis_url=url)
    engine = Engine(settings.model_copy(update={"redis_url": None}), rebuild=False)
    client = redis.Redis.from_url(url)
    prefix = f"dedup-scale-{os.getpid()}"
    index = SignatureIndex(settings.signature(), engine.layouts, redis_url=url, prefix=prefix)
    before = client.info("memory")["used_memory"]
    rows = []
    for article_id, _version, blob, count in engine.store.iter_signatures():
        rows.append((article_id, np.frombuffer(blob, dtype=np.uint32), count))
        if len(rows) >= sample:
            break
    index.insert_many(rows)
    bands = client.info("memory")["used_memory"] - before
    texts = engine.store.norm_texts([r[0] for r in rows])
    index.contained.insert_many((i, anchors(shingle_hashes(t, settings.signature()), settings.anchor_rate))
                                for i, t in texts.items())
    total = client.info("memory")["used_memory"] - before
    keys = list(client.scan_iter(match=f"{prefix}*", count=10_000))
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i:i + 1000])
    engine.close()
    return {"sample": len(rows), "bands_bytes_per_article": round(bands / len(rows)),
            "total_bytes_per_article": round(total / len(rows))}


def http_lookups(db: Path, n: int, seed: int) -> dict:
    settings = Settings(database_url=str(db), redis_url=None)
    rng = random.Random(seed)
    pool = http_load.sentence_pool(ROOT / "eval" / "zh_dev.jsonl")
    engine = Engine(settings, rebuild=False)
    stored = engine.store.counts()["articles"]
    ids = [rng.randrange(1, stored) for _ in range(n + 20)]
    texts = [a.raw_text for a in engine.store.get_articles(ids)]
    engine.close()
    del pool
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, start_s = http_load.start_server(settings, Path(tmp) / "server.log")
        try:
            requests = [("POST", "/v1/duplicates/search", {"text": http_load.repost(t, rng)}) for t in texts]
            result = http_load.sequential(base, requests)
            result["server_rss_bytes"] = rss_bytes(proc.pid)
            result["server_start_seconds"] = round(start_s, 1)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    return result


def finish(args: argparse.Namespace) -> None:
    report: dict = {"db_bytes": db_bytes(args.db)}
    # A fresh process per measurement, so one's memory does not count in another's.
    for part in [p for p in args.parts.split(",") if p != "redis" or args.redis_url]:
        cmd = [sys.executable, __file__, "part", part, "--db", str(args.db), "--seed", str(args.seed)]
        if args.redis_url:
            cmd += ["--redis-url", args.redis_url]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        report[part] = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-2000:]}
        print(part, report[part], file=sys.stderr, flush=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def part(args: argparse.Namespace) -> None:
    if args.which == "index":
        print(json.dumps(index_memory(args.db)))
    elif args.which == "http":
        print(json.dumps(http_lookups(args.db, 500, args.seed)))
    else:
        print(json.dumps(redis_memory(args.db, args.redis_url, 100_000)))


def jobs(args: argparse.Namespace) -> None:
    """`dedup ingest --jobs 1` against `--jobs N` on one fresh stream (each into a fresh SQLite file), in turn, with
    the clusters compared; wall and CPU time (this process's children: the CLI and its workers) and load."""
    import resource
    import sqlite3

    rng = random.Random(args.seed)
    pool = http_load.sentence_pool(ROOT / "eval" / "zh_dev.jsonl")
    recent: deque[str] = deque(maxlen=RECENT)
    recent.extend(http_load.synthetic(pool, rng) for _ in range(100))
    work = args.out.parent / "jobs"
    work.mkdir(parents=True, exist_ok=True)
    stream = work / "stream.jsonl"
    with stream.open("w", encoding="utf-8") as f:
        for item in articles(rng, pool, recent, 0, args.articles, "jobs.example"):
            f.write(json.dumps({"url": item.url, "text": item.text}, ensure_ascii=False) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    report: dict = {"articles": args.articles, "cores": os.cpu_count(), "runs": []}
    partitions = {}
    for rep in range(args.repeat):
        for n in (1, args.jobs):
            db = work / f"jobs{n}-{rep}.db"
            for old in work.glob(db.name + "*"):
                old.unlink()
            before, load, wall = resource.getrusage(resource.RUSAGE_CHILDREN), os.getloadavg()[0], time.perf_counter()
            subprocess.run([sys.executable, "-m", "dedup", "ingest", str(stream), "--db", str(db), "-q",
                            "--jobs", str(n)], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - wall
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            run = {"jobs": n, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_before": round(load, 2),
                   "load_after": round(os.getloadavg()[0], 2)}
            with sqlite3.connect(db) as conn:
                members: dict = {}
                for url, cluster in conn.execute("SELECT url, cluster_id FROM articles"):
                    members.setdefault(cluster, set()).add(url)
                partitions[(n, rep)] = sorted(sorted(m) for m in members.values())
            report["runs"].append(run)
            print(json.dumps(run), file=sys.stderr, flush=True)
    one = [r["wall_s"] for r in report["runs"] if r["jobs"] == 1]
    many = [r["wall_s"] for r in report["runs"] if r["jobs"] == args.jobs]
    report["wall_speedup"] = round(min(one) / min(many), 2)
    report["identical_clusters"] = all(p == partitions[(1, 0)] for p in partitions.values())
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def window(args: argparse.Namespace) -> None:
    """Ingest `--warm` then `--articles` more into the given store (it is changed: give a copy) and print the CPU
    per article of the second part and its band candidates; the index is rebuilt first, outside the timing."""
    settings = Settings(database_url=str(args.db), redis_url=None)
    engine = Engine(settings)
    stored = engine.store.counts()["articles"]
    rng = random.Random(args.seed)
    pool = http_load.sentence_pool(ROOT / "eval" / "zh_dev.jsonl")
    recent: deque[str] = deque(maxlen=RECENT)
    recent.extend(http_load.synthetic(pool, rng) for _ in range(100))
    for first in range(stored, stored + args.warm, BATCH):
        engine.ingest_many(articles(rng, pool, recent, first, BATCH, "window.example"))
    counting = Counting(engine)
    profile = cProfile.Profile() if args.profile else None
    cpu = time.process_time()
    if profile:
        profile.enable()
    for first in range(stored + args.warm, stored + args.warm + args.articles, BATCH):
        engine.ingest_many(articles(rng, pool, recent, first, BATCH, "window.example"))
    if profile:
        profile.disable()
        profile.dump_stats(args.profile)
    cpu = time.process_time() - cpu
    print(json.dumps({"stored": stored, "layouts": describe(engine.layouts), "articles": args.articles,
                      "cpu_us_per_article": round(cpu / args.articles * 1e6, 1), "candidates": counting.window(),
                      "loadavg": os.getloadavg()[0]}))
    engine.close()


def growth(args: argparse.Namespace) -> None:
    """CPU per article at two store sizes, side by side: each run ingests the same stream into a fresh copy of the
    small and of the large store, for every setting in turn (a setting: environment variables, e.g. the band
    layouts), `--runs` times; the ratio large / small per setting is the growth."""
    settings = {name: dict(kv.split("=", 1) for kv in env.split(",") if kv)
                for name, _, env in (s.partition(":") for s in args.setting)}
    scratch = args.out.parent / "growth-copy.db"
    report: dict = {"articles": args.articles, "warm": args.warm, "runs": []}
    for rep in range(args.runs):
        for name, env in settings.items():
            for size, db in (("small", args.small), ("large", args.large)):
                for old in scratch.parent.glob(scratch.name + "*"):
                    old.unlink()
                subprocess.run(["cp", str(db), str(scratch)], check=True)
                out = subprocess.run([sys.executable, str(Path(__file__)), "window", "--db", str(scratch),
                                      "--articles", str(args.articles), "--warm", str(args.warm)],
                                     env={**os.environ, **env}, check=True, capture_output=True, text=True)
                row = {"run": rep, "setting": name, "size": size, **json.loads(out.stdout.strip().splitlines()[-1])}
                report["runs"].append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    for old in scratch.parent.glob(scratch.name + "*"):
        old.unlink()
    report["growth"], report["growth_by_run"] = {}, {}
    for name in settings:
        cpu = {size: [r["cpu_us_per_article"] for r in report["runs"] if r["setting"] == name and r["size"] == size]
               for size in ("small", "large")}
        report["growth"][name] = round(float(np.mean(cpu["large"]) / np.mean(cpu["small"])), 3)
        # One ratio per run as well: a band merge of the large store (~1 s) falls into a window or not.
        report["growth_by_run"][name] = [round(large / small, 3) for small, large in zip(cpu["small"], cpu["large"])]
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps({"mean": report["growth"], "by_run": report["growth_by_run"]}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("ingest")
    run.add_argument("--articles", type=int, default=1_000_000)
    run.add_argument("--window", type=int, default=50_000)
    run.add_argument("--bound", type=int, default=Settings.model_fields["max_band_candidates"].default,
                     help="DEDUP_MAX_BAND_CANDIDATES for the run")
    parallel = sub.add_parser("jobs")
    parallel.add_argument("--articles", type=int, default=50_000)
    parallel.add_argument("--jobs", type=int, default=2)
    parallel.add_argument("--repeat", type=int, default=1)
    parallel.add_argument("--seed", type=int, default=7)
    parallel.add_argument("--out", type=Path, required=True)
    win = sub.add_parser("window")
    win.add_argument("--db", type=Path, required=True)
    win.add_argument("--articles", type=int, default=20_000)
    win.add_argument("--warm", type=int, default=2_000)
    win.add_argument("--seed", type=int, default=11)
    win.add_argument("--profile", type=Path, default=None, help="Write a cProfile of the timed part here")
    grow = sub.add_parser("growth")
    grow.add_argument("--small", type=Path, required=True, help="A store of ~50k articles (copied for each run)")
    grow.add_argument("--large", type=Path, required=True, help="A store of ~1M articles (copied for each run)")
    grow.add_argument("--articles", type=int, default=20_000)
    grow.add_argument("--warm", type=int, default=2_000)
    grow.add_argument("--runs", type=int, default=2)
    grow.add_argument("--setting", action="append", default=[],
                      help="NAME:VAR=VALUE,VAR=VALUE (environment of a run); repeat to compare; none: the defaults")
    grow.add_argument("--out", type=Path, required=True)
    done = sub.add_parser("finish")
    done.add_argument("--parts", default="index,http,redis", help="Which measurements (comma-separated)")
    for p in (run, done, sub.add_parser("part")):
        p.add_argument("--db", type=Path, required=True)
        p.add_argument("--seed", type=int, default=7)
        if p is not run:
            p.add_argument("--redis-url", default=None)
        if p.prog.endswith("part"):
            p.add_argument("which", choices=("index", "http", "redis"))
        else:
            p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "growth" and not args.setting:
        args.setting = ["default:"]
    {"ingest": ingest, "finish": finish, "part": part, "jobs": jobs, "window": window,
     "growth": growth}[args.command](args)


if __name__ == "__main__":
    main()
