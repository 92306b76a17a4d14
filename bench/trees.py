"""CPU per article of this checkout against other checkouts, run by run in turn, on one stream.

Runs of the same code on these shared machines spread by 10-30%, so two trees measured one after the other differ
by the drift as much as by their code. Each run is a fresh process with a fresh SQLite file: `Engine.ingest_many`
in batches of 500 (as bench/ingest.py feeds it), CPU time (process time) of the ingest only, start-up not timed.
The trees take turns for `--rounds` rounds; reported per tree: each run's µs an article and the mean.

Streams: `dev` (the dev set repeated with fresh URLs, ~520 characters), `news` (bench/peers.py's ~2,000-character
stories and reposts), `scale` (bench/scale.py's generator, ~500 characters, every fifth a repost).

    python bench/trees.py --stream news --articles 5000 --rounds 3 --tree /work/wt/old
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stream_of(kind: str, articles: int) -> list[dict]:
    sys.path.insert(0, str(ROOT / "bench"))
    dev = ROOT / "eval" / "zh_dev.jsonl"
    if kind == "dev":
        return importlib.import_module("ingest").load_stream(dev, articles)
    if kind == "news":
        return importlib.import_module("peers").news_stream(dev, articles)
    scale = importlib.import_module("scale")
    rng = random.Random(7)
    pool = scale.http_load.sentence_pool(dev)
    recent: deque[str] = deque(maxlen=scale.RECENT)
    recent.extend(scale.http_load.synthetic(pool, rng) for _ in range(100))
    return [{"url": a.url, "text": a.text} for a in scale.articles(rng, pool, recent, 0, articles, "trees.example")]


def run_once(stream_file: Path, tree: Path) -> float:
    """In this process, with `tree`'s code first on the path: µs of CPU an article."""
    sys.path[:0] = [str(tree), str(tree / "bench")]
    from ingest import _our_batch

    import dedup
    from dedup.engine import Engine
    from dedup.settings import Settings

    if not Path(dedup.__file__).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"dedup was imported from {dedup.__file__}, not from {tree}")
    rows = [json.loads(line) for line in stream_file.read_text(encoding="utf-8").splitlines()]
    with tempfile.TemporaryDirectory(prefix="dedup-trees-") as tmp:
        engine = Engine(Settings(database_url=str(Path(tmp) / "trees.db"), redis_url=None))
        started = time.process_time()
        for first in range(0, len(rows), 500):
            _our_batch(engine, rows[first:first + 500])
        spent = time.process_time() - started
        engine.close()
    return spent / len(rows) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", choices=("dev", "news", "scale"), default="dev")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout (with its build)")
    parser.add_argument("--run-once", type=Path, help=argparse.SUPPRESS)  # internal: one run on a stream file
    args = parser.parse_args()
    if args.run_once:
        print(run_once(args.run_once, args.tree[0]))
        return
    trees = [ROOT, *args.tree]
    with tempfile.TemporaryDirectory(prefix="dedup-trees-") as tmp:
        stream_file = Path(tmp) / "stream.jsonl"
        stream_file.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n"
                                       for row in stream_of(args.stream, args.articles)), encoding="utf-8")
        runs: dict[str, list[float]] = {str(tree): [] for tree in trees}
        for _ in range(args.rounds):
            for tree in trees:
                out = subprocess.run([sys.executable, __file__, "--run-once", str(stream_file), "--tree", str(tree)],
                                     cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, check=True,
                                     capture_output=True, text=True)
                runs[str(tree)].append(round(float(out.stdout.strip().splitlines()[-1]), 1))
                print(json.dumps({"tree": str(tree), "us_per_article": runs[str(tree)][-1]}), file=sys.stderr,
                      flush=True)
    print(json.dumps({"stream": args.stream, "articles": args.articles,
                      "runs": {tree: {"us_per_article": values, "mean": round(statistics.mean(values), 1)}
                               for tree, values in runs.items()}}, indent=2))


if __name__ == "__main__":
    main()
