"""Quality of the engine and of the plain datasketch pipeline on a labeled set, as a markdown table."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from plain import PlainPipeline  # noqa: E402

from dedup.quality.evaluate import EvalReport, evaluate, load_labeled, score  # noqa: E402
from dedup.settings import Settings  # noqa: E402


def plain_report(path: Path) -> EvalReport:
    rows = load_labeled(path)
    pipeline = PlainPipeline()
    for row in rows:
        pipeline.ingest(row["url"], row.get("text") or row.get("html") or "")
    return score(rows, pipeline.clusters())


def table(reports: dict[str, EvalReport]) -> str:
    recipes = sorted({r for report in reports.values() for r in report.recall_by_recipe})
    head = ["pipeline", "precision", "recall", "F1", "ARI", "false merges", *recipes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, rep in reports.items():
        cells = [name, f"{rep.precision:.3f}", f"{rep.recall:.3f}", f"{rep.f1:.3f}", f"{rep.ari:.3f}",
                 str(rep.false_merged_originals), *(f"{rep.recall_by_recipe.get(r, 0):.2f}" for r in recipes)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "zh_dev.jsonl")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours = evaluate(args.dataset, Settings(database_url=str(Path(tmp) / "q.db")))
    print(table({"dedup": ours, "plain datasketch": plain_report(args.dataset)}))


if __name__ == "__main__":
    main()
