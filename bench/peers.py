"""dedup next to the peer pipelines a user could pick instead, on the same streams, in one run.

Pipelines, each fed the same stream batch by batch in turn (one process, one core each in turn, fresh
string objects for every pipeline):
- `dedup`: the engine as shipped (compiled fold and one-call signing when built), SQLite store;
- `dedup_before`: the same engine with the compiled fold and one-call signing turned off (the path before
  them: Python normalization steps with OpenCC, then separate shingle and MinHash calls);
- `datasketch`: the plain pipeline of eval/README.md (bench/plain.py: NFKC + OpenCC t2s + strip, character
  5-grams, SHA-1 MinHash, 128 permutations, `MinHashLSH` at 0.7, union-find, verdicts written to SQLite);
- `datasketch_xxh32`: the same with datasketch's `hashfunc=` set to xxhash's xxh32 (its fast-hash option);
- `rensa`: the same normalization and shingles into rensa's `RMinHash` and `RMinHashLSH` (16 bands of 8, near
  datasketch's 14 x 9 for 0.7), the pipeline rensa's README suggests (optional `bench` extra).

Streams: the dev set repeated with fresh URLs (~520 characters), and a news-length stream (~2,000
characters: stories of reworded dev-set sentences, as bench/recluster.py builds them, each followed by
reposts with an added line, as bench/http_load.py makes them).
Reported per stream: CPU seconds (process time) and wall seconds per pipeline, articles/s, and dedup's ratios
(peer time / dedup time; above 1 means dedup is faster). `--signing` also reports raw text to signature
throughput (MB/s of UTF-8) of the Python reference path, the path before the compiled fold, and the
compiled path.

    PYTHONPATH=. /work/venv-wt/bin/python bench/peers.py --articles 10000 --signing
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import BATCH, _our_batch, _plain_batch, fresh, load_stream  # noqa: E402
from noise import typos  # noqa: E402
from plain import PlainPipeline  # noqa: E402

from dedup.config import NormalizationConfig, SignatureConfig  # noqa: E402
from dedup.engine import Engine  # noqa: E402
from dedup.settings import Settings  # noqa: E402
from dedup.sketch.signature import sign_text  # noqa: E402
from dedup.text import compiled_fold as fastpath  # noqa: E402
from dedup.text.normalize import normalize_text  # noqa: E402

# bench/http_load.py's generator; imported last, as it takes bench/ off sys.path (a name there shadows the stdlib)
_http_load = importlib.import_module("http_load")
repost, sentence_pool = _http_load.repost, _http_load.sentence_pool
NEWS_CHARS = 2_000


def original_sentences(dev: Path) -> list[str]:
    """bench/http_load.py's sentence pool, from the dev set's original (simplified-script) articles only:
    its traditional-script reposts would put a traditional sentence into almost every long story."""
    with tempfile.TemporaryDirectory(prefix="dedup-peers-") as tmp:
        originals = Path(tmp) / "originals.jsonl"
        with originals.open("w", encoding="utf-8") as out:
            for line in dev.read_text(encoding="utf-8").splitlines():
                if line.strip() and json.loads(line).get("recipe") == "original":
                    out.write(line + "\n")
        return sentence_pool(originals)


def news_stream(dev: Path, target: int, seed: int = 11) -> list[dict]:
    """Stories of ~2,000 characters from dev-set sentences, each followed by 0-4 reposts (an added line).

    Each sentence is reworded (bench/noise.py's typos at 0.3, as bench/recluster.py does): stories share
    phrases, as news does, not whole sentences, which a pool of ~30k sentences would otherwise repeat in
    hundreds of stories (every story a containment candidate of many others)."""
    pool = original_sentences(dev)
    alphabet = [ch for ch, _ in Counter("".join(pool)).most_common(1000) if "\u4e00" <= ch <= "\u9fff"]
    rng = random.Random(seed)
    stream: list[dict] = []
    while len(stream) < target:
        sentences: list[str] = []
        while sum(map(len, sentences)) < NEWS_CHARS:
            sentences.append(typos(rng, rng.choice(pool), 0.3, alphabet))
        story = "".join(sentences)
        number = len(stream)
        stream.append({"url": f"https://news.example.com/{number}", "text": story})
        for copy in range(rng.choice((0, 0, 1, 2, 4))):
            stream.append({"url": f"https://news.example.com/{number}/r{copy}", "text": repost(story, rng)})
    return stream[:target]


class FastHashPipeline(PlainPipeline):
    """The plain pipeline with datasketch's hash function swapped for xxh32."""

    @staticmethod
    def signature(text: str):  # type: ignore[no-untyped-def]
        import xxhash
        from datasketch import MinHash

        shingles = {text[i:i + 5] for i in range(max(1, len(text) - 4))}
        m = MinHash(num_perm=128, hashfunc=xxhash.xxh32_intdigest)
        m.update_batch([s.encode("utf-8") for s in shingles])
        return m


class RensaPipeline(PlainPipeline):
    """The plain pipeline's normalization and shingles into rensa's MinHash and LSH."""

    def __init__(self, db_path: str) -> None:
        from rensa import RMinHashLSH

        super().__init__(db_path)
        # 16 x 8: the divisor of 128 nearest datasketch's 14 x 9 for 0.7 (rensa needs bands x rows = 128)
        self.lsh = RMinHashLSH(threshold=0.7, num_perm=128, num_bands=16)

    @staticmethod
    def signature(text: str):  # type: ignore[no-untyped-def]
        from rensa import RMinHash

        m = RMinHash(num_perm=128, seed=42)
        m.update(list({text[i:i + 5] for i in range(max(1, len(text) - 4))}))
        return m


def _engine(tmp: Path, name: str) -> Engine:
    return Engine(Settings(database_url=str(tmp / f"{name}.db"), redis_url=None))


def _dedup(engine: Engine, compiled: bool):  # type: ignore[no-untyped-def]
    def run(rows: list[dict]) -> None:
        (fastpath.enable if compiled else fastpath.disable)("fold", "sign")
        _our_batch(engine, rows)
        fastpath.enable("fold", "sign")
    return run


def _peer(pipeline: PlainPipeline):  # type: ignore[no-untyped-def]
    return lambda rows: _plain_batch(pipeline, rows)


def run_stream(stream: list[dict], tmp: Path, peers: list[str]) -> dict[str, dict[str, float]]:
    """Batches in turn: every pipeline sees batch k before any sees batch k+1, so load drifts hit all alike."""
    engines = [_engine(tmp, "dedup"), _engine(tmp, "dedup_before")]
    runners = {"dedup": _dedup(engines[0], True), "dedup_before": _dedup(engines[1], False)}
    makers = {"datasketch": PlainPipeline, "datasketch_xxh32": FastHashPipeline, "rensa": RensaPipeline}
    for name in peers:
        runners[name] = _peer(makers[name](str(tmp / f"{name}.db")))
    times = {name: {"cpu_s": 0.0, "wall_s": 0.0} for name in runners}
    for start in range(0, len(stream), BATCH):
        rows = stream[start:start + BATCH]
        for name, run in runners.items():
            c0, w0 = time.process_time(), time.perf_counter()
            run(rows)
            times[name]["cpu_s"] += time.process_time() - c0
            times[name]["wall_s"] += time.perf_counter() - w0
    for engine in engines:
        engine.close()
    return times


def signing_rates(texts: list[str], rounds: int = 3) -> dict[str, float]:
    """Raw text to signature values, MB/s of UTF-8: Python reference, before the fold, compiled (best round)."""
    norm, sig = NormalizationConfig(), SignatureConfig()
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6

    def python(text: str) -> None:
        sign_text(normalize_text(text, norm, compiled=False).text, sig, accelerated=False)

    def compiled(text: str) -> None:
        sign_text(normalize_text(text, norm).text, sig)

    best = {"python": 0.0, "before": 0.0, "compiled": 0.0}
    for _ in range(rounds):
        for name, step in (("python", python), ("before", compiled), ("compiled", compiled)):
            (fastpath.disable if name == "before" else fastpath.enable)("fold", "sign")
            batch = [fresh(t) for t in texts]
            t0 = time.process_time()
            for text in batch:
                step(text)
            best[name] = max(best[name], megabytes / (time.process_time() - t0))
    fastpath.enable("fold", "sign")
    return best


def summarize(times: dict[str, dict[str, float]], n: int) -> dict:
    ours = times["dedup"]
    out: dict = {name: {**t, "articles_per_s_cpu": n / t["cpu_s"]} for name, t in times.items()}
    out["ratios"] = {f"{name}/dedup": {"cpu": t["cpu_s"] / ours["cpu_s"], "wall": t["wall_s"] / ours["wall_s"]}
                     for name, t in times.items() if name != "dedup"}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=ROOT / "eval" / "zh_dev.jsonl")
    parser.add_argument("--articles", type=int, default=10_000, help="articles per stream")
    parser.add_argument("--streams", nargs="+", choices=("dev", "news"), default=["dev", "news"])
    parser.add_argument("--peers", nargs="+", choices=("datasketch", "datasketch_xxh32", "rensa"),
                        default=["datasketch", "datasketch_xxh32", "rensa"])
    parser.add_argument("--signing", action="store_true", help="also raw text to signature MB/s per path")
    args = parser.parse_args()
    streams = {"dev": lambda: load_stream(args.dataset, args.articles),
               "news": lambda: news_stream(args.dataset, args.articles)}
    report: dict = {"features": fastpath.compiled_features()}
    for name in args.streams:
        stream = streams[name]()
        mean_chars = sum(len(r.get("text") or r.get("html") or "") for r in stream) / len(stream)
        entry: dict = {"articles": len(stream), "mean_raw_chars": round(mean_chars)}
        if args.signing:
            entry["signing_mb_per_s"] = signing_rates([r.get("text") or r.get("html") for r in stream[:3000]])
        with tempfile.TemporaryDirectory(prefix="dedup-peers-") as tmp:
            entry.update(summarize(run_stream(stream, Path(tmp), args.peers), len(stream)))
        report[name] = entry
        print(json.dumps({name: entry}, indent=2), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
