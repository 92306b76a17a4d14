"""What following other writers costs a lookup: `Engine.query_text` with the catch-up (the default) and with it
switched off, alternately in one process, on the same stored articles.

On SQLite the catch-up reads `PRAGMA data_version` (no query while nothing is committed); on PostgreSQL
(`--database-url`, in-process index) it asks the change log for its newest entry, one round trip per lookup.
Reported as ms per lookup and the ratio with/without (best of `--rounds`).
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

from dedup.engine import Engine  # noqa: E402
from dedup.models import ArticleIn  # noqa: E402
from dedup.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "zh_dev.jsonl")
    parser.add_argument("--articles", type=int, default=1500)
    parser.add_argument("--lookups", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    lines = (json.loads(line) for line in args.dataset.open(encoding="utf-8") if line.strip())
    texts = [row["text"] for row in lines if "text" in row][:args.articles]
    url = args.database_url or str(Path(tempfile.mkdtemp()) / "catch_up.db")
    engine = Engine(Settings(database_url=url, redis_url=None))
    items = [ArticleIn(url=f"https://bench.example/{i}", text=t) for i, t in enumerate(texts)]
    for start in range(0, len(items), 500):
        engine.ingest_many(items[start:start + 500])
    lookups = texts[:args.lookups]
    follow = engine.catch_up
    timings: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(args.rounds):
        for name, catch_up in (("with", follow), ("without", lambda: 0)):
            engine.catch_up = catch_up  # type: ignore[method-assign]
            start = time.perf_counter()
            for text in lookups:
                engine.query_text(text)
            timings[name].append(time.perf_counter() - start)
    engine.close()
    best = {name: min(values) * 1000 / len(lookups) for name, values in timings.items()}
    print(json.dumps({"backend": "postgresql" if args.database_url else "sqlite", "lookups": len(lookups),
                      "ms_with_catch_up": round(best["with"], 3), "ms_without": round(best["without"], 3),
                      "ratio": round(best["with"] / best["without"], 3)}, indent=1))


if __name__ == "__main__":
    main()
