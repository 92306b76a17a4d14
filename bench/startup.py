"""Start-up cost of `dedup --help` and of a server worker (import of app.main + create_app), against a bare
interpreter start measured in the same run.

Each is run --runs times as a fresh process, alternately; reported as the median wall and CPU (user + system)
seconds and the ratio to the bare interpreter. On a busy host wall time stretches with the load and CPU time
does not: the CPU figures are the ones to compare across machines. `--tree DIR` measures another checkout
(for example an older commit exported with `git archive`) in the same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER = ("import tempfile; from app.main import create_app; from dedup.settings import Settings; "
          "create_app(Settings(database_url=tempfile.mktemp(suffix='.db'), redis_url=None))")
HELP = "import sys; sys.argv = ['dedup', '--help']; from dedup.cli.commands import main; main()"


def _run(code: str, tree: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of one fresh `python -c code` with `tree` first on the path."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                   stdout=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to measure too")
    args = parser.parse_args()
    cases = [("python -c pass", "pass", ROOT)]
    for tree in [ROOT, *args.tree]:
        label = "" if tree == ROOT else f" ({tree})"
        cases += [(f"dedup --help{label}", HELP, tree), (f"worker start{label}", WORKER, tree)]
    times: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in cases}
    for _ in range(args.runs):
        for name, code, tree in cases:
            times[name].append(_run(code, tree))
    base_wall = statistics.median(w for w, _ in times["python -c pass"])
    base_cpu = statistics.median(c for _, c in times["python -c pass"])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.runs} runs each (medians)")
    for name, runs in times.items():
        wall, cpu = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
        print(f"{name:50} wall {wall:6.2f} s ({wall / base_wall:5.1f}x)   cpu {cpu:5.2f} s ({cpu / base_cpu:5.1f}x)")


if __name__ == "__main__":
    main()
