"""Quality on a labeled set, as defined in the eval README: pairwise P/R/F1, ARI, false merges, recall per recipe."""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from math import comb
from pathlib import Path

from dedup.article_files import article_from_json
from dedup.engine import Engine
from dedup.errors import InvalidArticle
from dedup.parallel import ingest_stream
from dedup.settings import Settings


@dataclass
class EvalReport:
    articles: int
    precision: float
    recall: float
    f1: float
    ari: float
    false_merged_originals: int
    recall_by_recipe: dict[str, float]
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def read_objects(path: Path, what: str) -> list[dict]:
    """The JSON objects of a JSONL file; a bad line is named by its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArticle(f"cannot read {what} {path}: {exc}") from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidArticle(f"{path}: invalid JSON on line {number}: {exc.msg}") from exc
        if not isinstance(row, dict):
            raise InvalidArticle(f"{path}: line {number} is not a JSON object")
        rows.append(row)
    return rows


def load_labeled(path: Path) -> list[dict]:
    rows = read_objects(path, "labeled set")
    for number, row in enumerate(rows, start=1):
        if "label" not in row:
            raise InvalidArticle(f"{path}: article {number} has no label")
    return rows


def pair_metrics(predicted: list[int], labels: list[str]) -> tuple[float, float, float, float]:
    """Pairwise precision, recall, F1 and adjusted Rand index from two flat assignments."""
    joint = Counter(zip(predicted, labels))
    same_both = sum(comb(n, 2) for n in joint.values())
    same_pred = sum(comb(n, 2) for n in Counter(predicted).values())
    same_label = sum(comb(n, 2) for n in Counter(labels).values())
    precision = same_both / same_pred if same_pred else 1.0
    recall = same_both / same_label if same_label else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = comb(len(labels), 2)
    expected = same_pred * same_label / total if total else 0.0
    max_index = (same_pred + same_label) / 2
    ari = (same_both - expected) / (max_index - expected) if max_index != expected else 1.0
    return precision, recall, f1, ari


def score(rows: list[dict], predicted: list[int]) -> EvalReport:
    labels = [r["label"] for r in rows]
    precision, recall, f1, ari = pair_metrics(predicted, labels)
    originals: dict[int, Counter] = defaultdict(Counter)
    for r, p in zip(rows, predicted):
        if r.get("recipe") == "original":
            originals[p][r["label"]] += 1
    false_merges = 0
    for counts in originals.values():
        n = sum(counts.values())
        false_merges += comb(n, 2) - sum(comb(c, 2) for c in counts.values())
    label_clusters: dict[str, Counter] = defaultdict(Counter)
    for r, p in zip(rows, predicted):
        label_clusters[r["label"]][p] += 1
    found: dict[str, list[bool]] = defaultdict(list)
    for r, p in zip(rows, predicted):
        if r.get("recipe") and r["recipe"] != "original":
            found[r["recipe"]].append(label_clusters[r["label"]][p] > 1)
    by_recipe = {k: sum(v) / len(v) for k, v in sorted(found.items())}
    return EvalReport(len(rows), precision, recall, f1, ari, false_merges, by_recipe, 0.0)


def evaluate(path: Path, settings: Settings, progress: Callable[[int], None] | None = None, *,
             jobs: int = 1) -> EvalReport:
    """`jobs`: processes preparing articles (dedup.parallel); the clustering does not depend on it."""
    rows = load_labeled(path)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dedup-eval-") as tmp:
        run_settings = settings.model_copy(update={"database_url": str(Path(tmp) / "eval.db"), "redis_url": None})
        engine = Engine(run_settings)
        try:
            predicted = _ingest_all(engine, rows, progress, jobs)
        finally:
            engine.close()
    report = score(rows, predicted)
    report.seconds = time.perf_counter() - started
    return report


def _ingest_all(engine: Engine, rows: list[dict], progress: Callable[[int], None] | None, jobs: int) -> list[int]:
    ids: list[int] = []
    batch = 500
    chunks = ([article_from_json(r) for r in rows[start:start + batch]] for start in range(0, len(rows), batch))
    for chunk, results in ingest_stream(engine, chunks, jobs):
        for result in results:
            if isinstance(result, Exception):
                raise InvalidArticle(f"article could not be ingested: {result}")
            ids.append(result.id)
        if progress:
            progress(len(chunk))
    by_id: dict[int, int] = {}
    for article in engine.store.iter_articles():
        by_id[article.id] = article.cluster_id or article.id  # a stored article always has a cluster
    return [by_id[i] for i in ids]
