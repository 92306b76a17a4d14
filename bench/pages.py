"""Cluster browser benchmark: render times of the pages over a 100k-article store.

    nice python bench/pages.py [--n 100000] [--db data/bench-100000.db] [--repeat 20]

The store comes from bench/recluster.py's generator (real dev-set sentences mixed into stories, reposted the ways
reposts are made, stored with signatures and clusters; built once, kept next to the database). Its articles are
then spread over 12 sources and 60 days of publication, so the source filter, the sources page and the size /
activity orders have something to do. Each page is requested through the whole app (middleware, routing,
templates) in-process: the first request (cold: nothing cached in the process, the database file in the OS cache),
then `--repeat` more, of which the median and the worst are reported.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import html  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from fastapi.testclient import TestClient  # noqa: E402

SOURCES = 12
DAYS = 60


def spread(db: Path) -> None:
    """Sources and publication dates, derived from the ids (deterministic); clusters' activity follows."""
    import sqlalchemy as sa

    from dedup.store.sql import SqlStore

    store = SqlStore(str(db))
    with store.engine.begin() as conn:
        conn.execute(sa.text(
            f"UPDATE articles SET source = 'site' || (id % {SOURCES}), "
            f"published_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', '2026-09-01', "
            f"'+' || (id * 37 % ({DAYS} * 1440)) || ' minutes')"))
        span = "(SELECT {}(published_at) FROM articles a WHERE a.cluster_id = clusters.id)"
        conn.execute(sa.text(f"UPDATE clusters SET first_seen = {span.format('min')}, "
                             f"last_seen = {span.format('max')}"))
    store.close()


def measure(db: Path, paths: list[str], repeat: int) -> dict[str, dict[str, float]]:
    from app.main import create_app
    from dedup.settings import Settings

    app = create_app(Settings(database_url=str(db), redis_url=None))
    out: dict[str, dict[str, float]] = {}
    with TestClient(app) as client:
        # Process warm-up: jieba's dictionary and the templates load once per process, not per page.
        assert client.get("/clusters/1").status_code == 200
        out["/ (20 pages walked, none cached)"] = walk(client, "/", 20)
        print(out, flush=True)
        for path in paths:
            start = time.perf_counter()
            assert client.get(path).status_code == 200, path
            first = (time.perf_counter() - start) * 1000
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, path
            out[path] = {"first_ms": round(first, 1), "median_ms": round(statistics.median(times), 1),
                         "max_ms": round(max(times), 1)}
            print(path, out[path], flush=True)
    return out


def walk(client: TestClient, path: str, pages: int) -> dict[str, float]:
    """Follow the "older clusters" link: every page shows clusters not shown before (no cached keywords)."""
    times = []
    for _ in range(pages):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        found = re.search(r'class="next" href="([^"]+)"', response.text)
        if found is None:
            break
        path = html.unescape(found.group(1))
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1), "pages": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    db = args.db or ROOT / "data" / f"bench-pages-{args.n}.db"
    if not db.exists():
        from recluster import build

        db.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        print(json.dumps(build(db, args.n)), flush=True)
        spread(db)
        print(f"store built in {time.perf_counter() - t:.0f} s", flush=True)
    paths = ["/", "/?sort=size", "/?source=site3", "/?min_size=1", "/sources", "/sources/site3"]
    result = measure(db, paths, args.repeat)
    db.with_suffix(".pages.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
