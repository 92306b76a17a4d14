"""Time the garbage collector takes in the process that runs `dedup ingest` (the deciding process under --jobs).

Each collection is timed through `gc.callbacks`, by generation; reported with the run's wall and CPU time (this
process only, not its workers). Long-lived records the collector tracks (cached articles, held inputs) make every
full collection walk them again, so this is where such a cost shows.

    python bench/gc_time.py STREAM.jsonl --jobs 2
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stream", type=Path, help="JSONL articles (bench/scale.py jobs writes one)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    by_generation = [[0.0, 0] for _ in range(3)]
    started = [0.0]

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        spent = by_generation[info["generation"]]
        spent[0] += time.perf_counter() - started[0]
        spent[1] += 1

    from dedup.cli.commands import app

    with tempfile.TemporaryDirectory(prefix="dedup-gc-") as tmp:
        gc.callbacks.append(timed)
        wall = time.perf_counter()
        try:
            with redirect_stdout(sys.stderr):  # the command's summary; this script's stdout is the JSON report
                app(["ingest", str(args.stream), "--db", str(Path(tmp) / "gc.db"), "-q", "--jobs", str(args.jobs)])
        except SystemExit:
            pass
        wall = time.perf_counter() - wall
        gc.callbacks.remove(timed)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "jobs": args.jobs, "wall_s": round(wall, 1), "cpu_s_this_process": round(usage.ru_utime + usage.ru_stime, 1),
        "gc_s": round(sum(s for s, _ in by_generation), 2), "collections": sum(n for _, n in by_generation),
        "by_generation": [{"generation": g, "s": round(s, 2), "collections": n,
                           "ms_each": round(1000 * s / n, 1) if n else 0.0}
                          for g, (s, n) in enumerate(by_generation)],
    }, indent=2))


if __name__ == "__main__":
    main()
