"""End-to-end ingest throughput (raw text to stored verdict) against the plain datasketch pipeline.

The dev set is repeated (with fresh URLs and fresh string objects) until it holds at least
--articles articles; both pipelines ingest the same stream in the same run, batch by batch
alternately, in one process on one core. Engine start-up (dictionary loading) is not timed.
Reported as articles/s and the ratio. The engine also runs with boilerplate learning off
(`boilerplate_min_titles=0`): the difference is what learning costs per article (counting each line's titles in
the store, stripping learned lines). `--without-containment` also runs the engine with the containment candidate
path off (`anchor_rate=0`) and reports the path's share of the time and its index memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from plain import PlainPipeline  # noqa: E402

from dedup.engine import Engine  # noqa: E402
from dedup.models import ArticleIn  # noqa: E402
from dedup.settings import Settings  # noqa: E402

BATCH = 500


def load_stream(path: Path, target: int, quartile: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if quartile is not None:  # only the rows whose raw length falls in that quarter (1: shortest, 4: longest)
        ranked = sorted(rows, key=lambda r: len(r.get("text") or r.get("html") or ""))
        size = len(ranked) // 4
        chosen = {id(r) for r in ranked[(quartile - 1) * size:quartile * size if quartile < 4 else None]}
        rows = [r for r in rows if id(r) in chosen]  # dataset order kept: reposts still follow originals
    stream = []
    round_no = 0
    while len(stream) < target:
        for row in rows:
            stream.append({**row, "url": f"{row['url']}#r{round_no}"})
        round_no += 1
    return stream[:target]


def fresh(text: str) -> str:
    """A new string object: C extensions cache UTF-8 copies inside strings they have read."""
    return (text + " ")[:-1]


def _our_batch(engine: Engine, rows: list[dict]) -> None:
    chunk = [ArticleIn(url=r["url"], text=fresh(r["text"]) if r.get("text") is not None else None,
                       html=fresh(r["html"]) if r.get("html") is not None else None, title=r.get("title"),
                       published_at=r.get("published_at"), source=r.get("source")) for r in rows]
    for result in engine.ingest_many(chunk):
        if isinstance(result, Exception):
            raise result


def _plain_batch(plain: PlainPipeline, rows: list[dict]) -> None:
    plain.ingest_many([(r["url"], fresh(r.get("text") or r.get("html"))) for r in rows])


def containment_bytes(engine: Engine) -> int:
    """Memory held by the in-process containment index (dedup.candidates.containment)."""
    return engine.index.contained.memory_bytes()


def run_interleaved(stream: list[dict], tmp: Path, *, without_containment: bool = False) -> dict[str, float]:
    """Alternate batches between the pipelines so machine load drifts hit all alike."""
    engine = Engine(Settings(database_url=str(tmp / "ours.db"), redis_url=None))
    unlearned = Engine(Settings(database_url=str(tmp / "unlearned.db"), redis_url=None, boilerplate_min_titles=0))
    bare = (Engine(Settings(database_url=str(tmp / "bare.db"), redis_url=None, anchor_rate=0))
            if without_containment else None)
    plain = PlainPipeline(str(tmp / "plain.db"))
    times = {"ours": 0.0, "ours_without_learning": 0.0, "plain": 0.0, "ours_without_containment": 0.0}
    for start in range(0, len(stream), BATCH):
        rows = stream[start:start + BATCH]
        t0 = time.perf_counter()
        _our_batch(engine, rows)
        t1 = time.perf_counter()
        _our_batch(unlearned, rows)
        t2 = time.perf_counter()
        _plain_batch(plain, rows)
        t3 = time.perf_counter()
        if bare is not None:
            _our_batch(bare, rows)
        t4 = time.perf_counter()
        times["ours"] += t1 - t0
        times["ours_without_learning"] += t2 - t1
        times["plain"] += t3 - t2
        times["ours_without_containment"] += t4 - t3
    if bare is not None:
        times["containment_index_bytes"] = containment_bytes(engine)
        bare.close()
    engine.close()
    unlearned.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "zh_dev.jsonl")
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--length-quartile", type=int, choices=(1, 2, 3, 4), default=None,
                        help="Only dev-set articles in this quarter of raw length (how the ratio moves with length)")
    parser.add_argument("--without-containment", action="store_true",
                        help="Also run dedup with the containment candidate path off (anchor_rate 0): its cost")
    args = parser.parse_args()
    stream = load_stream(args.dataset, args.articles, args.length_quartile)
    with tempfile.TemporaryDirectory(prefix="dedup-bench-") as tmp:
        times = run_interleaved(stream, Path(tmp), without_containment=args.without_containment)
    ours, plain, without = times["ours"], times["plain"], times["ours_without_learning"]
    n = len(stream)
    mean_chars = sum(len(r.get("text") or r.get("html") or "") for r in stream) / n
    result = {"articles": n, "mean_raw_chars": round(mean_chars), "ours_per_s": n / ours, "plain_per_s": n / plain,
              "ratio": plain / ours, "ours_without_learning_per_s": n / without,
              "learning_ms_per_article": 1000 * (ours - without) / n,
              "ours_s": ours, "ours_without_learning_s": without, "plain_s": plain}
    if args.without_containment:
        bare = times["ours_without_containment"]
        result.update(ours_without_containment_per_s=n / bare, containment_time_share=ours / bare - 1,
                      us_per_article_with=1e6 * ours / n, us_per_article_without=1e6 * bare / n,
                      containment_index_bytes_per_article=times["containment_index_bytes"] / n)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
