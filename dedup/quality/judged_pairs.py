"""Quality on judged pairs of a real crawl: pairs read side by side and labeled duplicate / not_duplicate / unclear.

Synthetic sets label every article; real crawls can only afford a sample of judged pairs drawn from strata of a
similarity scan. So figures come two ways: raw (over the judged pairs as drawn) and weighted (each pair stands for
its stratum's population / sampled count), which estimates recall and precision over the whole scanned population.
The definitions are those of the realworld set's `score_pairs.py`, so numbers printed here and there agree.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dedup.article_files import article_from_json
from dedup.engine import Engine
from dedup.errors import DedupError, InvalidArticle
from dedup.parallel import ingest_stream
from dedup.quality.evaluate import read_objects
from dedup.settings import Settings

LABELS = ("duplicate", "not_duplicate", "unclear")
BELOW_SCAN = "below_scan"


@dataclass
class Weighted:
    recall: float | None
    precision: float | None
    duplicate: int
    duplicate_clustered: int
    not_duplicate_clustered: int


@dataclass
class JudgedReport:
    pairs: int
    labels: dict[str, int]
    raw_recall: float | None
    raw_false_merge_rate: float | None
    raw_precision: float | None
    unclear_clustered: int
    weighted_scan: Weighted | None
    weighted_all: Weighted | None
    recall_by_pattern: dict[str, dict[str, float | int | None]]
    articles: int = 0
    rejected: int = 0
    missing_urls: int = 0
    seconds: float = 0.0
    per_stratum: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def load_pairs(path: Path) -> list[dict]:
    """Judged pairs; each needs url_a, url_b and a label, so a typo in a label cannot silently drop a pair."""
    pairs = read_objects(path, "judged pairs")
    for number, pair in enumerate(pairs, start=1):
        missing = [k for k in ("url_a", "url_b", "label") if not pair.get(k)]
        if missing:
            raise InvalidArticle(f"{path}: pair {number} lacks {', '.join(missing)}")
        if pair["label"] not in LABELS:
            raise InvalidArticle(f"{path}: pair {number} has label {pair['label']!r}; use one of {', '.join(LABELS)}")
    return pairs


def load_strata(path: Path) -> dict[str, dict[str, int]]:
    try:
        strata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArticle(f"cannot read strata {path}: {exc}") from exc
    if not isinstance(strata, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("population"), int) and isinstance(v.get("sampled"), int)
            for v in strata.values()):
        raise InvalidArticle(f"{path}: strata must map each stratum to {{\"population\": N, \"sampled\": n}}")
    return strata


def _weighted(per: dict[str, dict[str, int]], strata: dict[str, dict[str, int]], names: Iterable[str]) -> Weighted:
    w_dup = w_dup_cl = w_not_cl = 0.0
    n_dup = n_dup_cl = n_not_cl = 0
    for name in names:
        counts, info = per.get(name, {}), strata[name]
        weight = info["population"] / info["sampled"] if info["sampled"] else 0.0
        w_dup += weight * counts.get("duplicate", 0)
        w_dup_cl += weight * counts.get("duplicate_clustered", 0)
        w_not_cl += weight * counts.get("not_duplicate_clustered", 0)
        n_dup += counts.get("duplicate", 0)
        n_dup_cl += counts.get("duplicate_clustered", 0)
        n_not_cl += counts.get("not_duplicate_clustered", 0)
    return Weighted(_ratio(w_dup_cl, w_dup), _ratio(w_dup_cl, w_dup_cl + w_not_cl), n_dup, n_dup_cl, n_not_cl)


def score_pairs(pairs: list[dict], cluster_of: dict[str, int],
                strata: dict[str, dict[str, int]] | None = None) -> JudgedReport:
    """Score a clustering (url -> cluster id); an article missing from it counts as a cluster of its own."""
    labels: dict[str, int] = defaultdict(int)
    clustered: dict[str, int] = defaultdict(int)
    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    patterns: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missing: set[str] = {u for p in pairs for u in (p["url_a"], p["url_b"]) if u not in cluster_of}
    for pair in pairs:
        label, stratum = pair["label"], pair.get("stratum") or "?"
        a, b = cluster_of.get(pair["url_a"]), cluster_of.get(pair["url_b"])
        together = a is not None and a == b
        labels[label] += 1
        clustered[label] += together
        per[stratum][label] += 1
        per[stratum][f"{label}_clustered"] += together
        if label == "duplicate":
            counts = patterns[pair.get("pattern") or "?"]
            counts[0] += 1
            counts[1] += together
    scan = all_ = None
    if strata is not None:
        unknown = sorted(set(per) - set(strata))
        if unknown:
            raise InvalidArticle(f"pairs name strata the strata file lacks: {', '.join(unknown)}")
        scan = _weighted(per, strata, [s for s in strata if not s.startswith(BELOW_SCAN)])
        all_ = _weighted(per, strata, list(strata))
    dup, not_dup = labels["duplicate"], labels["not_duplicate"]
    return JudgedReport(
        pairs=len(pairs), labels={k: labels[k] for k in LABELS},
        raw_recall=_ratio(clustered["duplicate"], dup),
        raw_false_merge_rate=_ratio(clustered["not_duplicate"], not_dup),
        raw_precision=_ratio(clustered["duplicate"], clustered["duplicate"] + clustered["not_duplicate"]),
        unclear_clustered=clustered["unclear"], weighted_scan=scan, weighted_all=all_,
        recall_by_pattern={k: {"duplicate": v[0], "clustered": v[1], "recall": _ratio(v[1], v[0])}
                           for k, v in sorted(patterns.items(), key=lambda kv: (-kv[1][0], kv[0]))},
        missing_urls=len(missing), per_stratum={k: dict(v) for k, v in sorted(per.items())})


def evaluate_judged(corpus: Path, pairs_path: Path, settings: Settings, strata_path: Path | None = None,
                    progress: Callable[[int], None] | None = None, *, jobs: int = 1) -> JudgedReport:
    """Ingest the corpus in file order into a fresh store, then score the clustering against the judged pairs.

    Real crawls hold pages with no text left after normalization; they are counted as rejected (and each is then
    its own cluster, as the scorer counts missing articles), not a reason to stop the run.
    """
    pairs = load_pairs(pairs_path)
    strata = load_strata(strata_path) if strata_path else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dedup-judged-") as tmp:
        run_settings = settings.model_copy(update={"database_url": str(Path(tmp) / "judged.db"), "redis_url": None})
        engine = Engine(run_settings)
        try:
            cluster_of, articles, rejected = _ingest_corpus(engine, read_objects(corpus, "corpus"), progress, jobs)
        finally:
            engine.close()
    report = score_pairs(pairs, cluster_of, strata)
    report.articles, report.rejected = articles, rejected
    report.seconds = time.perf_counter() - started
    return report


def _ingest_corpus(engine: Engine, rows: list[dict], progress: Callable[[int], None] | None,
                   jobs: int = 1) -> tuple[dict[str, int], int, int]:
    """`jobs`: processes preparing articles (dedup.parallel); the clustering does not depend on it."""
    rejected = 0
    batch = 500
    chunks = ([article_from_json(r) for r in rows[start:start + batch]] for start in range(0, len(rows), batch))
    for chunk, results in ingest_stream(engine, chunks, jobs):
        for result in results:
            if isinstance(result, DedupError):
                rejected += 1
            elif isinstance(result, Exception):
                raise result
        if progress:
            progress(len(chunk))
    # a stored article always has a cluster (`or` only tells the type checker)
    cluster_of = {article.url: article.cluster_id or article.id for article in engine.store.iter_articles()}
    return cluster_of, len(rows), rejected
