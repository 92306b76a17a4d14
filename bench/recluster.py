"""Re-cluster benchmark: N articles built from the dev set's real texts, stored, then re-clustered.

    python bench/recluster.py --n 1000000 [--db data/bench-1000000.db] [--baseline-n 100000]

Corpus: the dev set's texts are normalized and cut into sentences; each story is a new mix of
4-12 real sentences, each reworded a little (15% of characters dropped, 15% inserted), so stories
are distinct but share phrases, as news does; each story
has a geometric number of reposts (mean cluster size ~2.5) made the ways reposts are made:
character deletions and insertions (typos), cut tails, excerpts, captions and footers added,
and, for some, a changed number (a template twin: online keeps it apart, so must the run).
Articles are stored with their signatures and an online-like clustering (story founder's id);
texts are stored normalized (raw = normalized), so no run needs to re-normalize them.

Measured, each in its own process so peak memory is the run's own: a cold run (every
candidate verified), then a second identical run. Baseline, in the same invocation: the
plain approach, a datasketch MinHashLSH with insert + query per article, on --baseline-n
articles of the same corpus (candidate generation only; verification is the same for both),
extrapolated linearly to N.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from noise import typos  # noqa: E402

from dedup.config import NormalizationConfig  # noqa: E402
from dedup.settings import Settings  # noqa: E402
from dedup.sketch.shingle import shingle_hashes  # noqa: E402
from dedup.sketch.signature import as_lean_minhash, minhash_values  # noqa: E402
from dedup.text.normalize import normalize_text  # noqa: E402

DEV = ROOT / "eval" / "zh_dev.jsonl"
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_CAPTIONS = ["图为会议现场", "来源人民网", "责任编辑王五", "本文来源央视新闻客户端", "记者张三报道",
             "版权所有转载请注明出处", "点击关注我们获取更多资讯", "原标题", "编辑李四", "综合新华社消息"]
# Common characters, for typo insertions.
_CJK = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种"
    "面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本"
    "去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比"
    "或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总"
    "次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做"
    "必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权"
    "收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信"
    "马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连"
    "断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存"
    "候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
)


# -- corpus ---------------------------------------------------------------------------------------
def sentence_pool() -> list[str]:
    config = NormalizationConfig()
    pool: list[str] = []
    for line in DEV.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("recipe") != "original" or not row.get("text"):
            continue
        for sentence in _SENTENCE.findall(row["text"]):
            text = normalize_text(sentence, config).text
            if len(text) >= 12:
                pool.append(text)
    return sorted(set(pool))


def _typos(rng: random.Random, text: str, rate: float) -> str:
    return typos(rng, text, rate, _CJK)


def _new_number(rng: random.Random, text: str) -> str | None:
    digits = [m.start() for m in re.finditer(r"[0-9]", text)]
    if not digits:
        return None
    pos = rng.choice(digits)
    return text[:pos] + str((int(text[pos]) + rng.randint(1, 8)) % 10) + text[pos + 1:]


def repost(rng: random.Random, text: str) -> tuple[str, bool]:
    """A repost of a story's text; True when it is a template twin (a changed number)."""
    kind = rng.random()
    if kind < 0.05:
        changed = _new_number(rng, text)
        if changed:
            return changed, True
    if kind < 0.35:
        text = _typos(rng, text, rng.uniform(0.005, 0.03))
    elif kind < 0.55:
        text = text[: int(len(text) * rng.uniform(0.7, 0.95))]
    elif kind < 0.70:
        size = int(len(text) * rng.uniform(0.4, 0.7))
        start = rng.randint(0, len(text) - size)
        text = text[start:start + size]
    if rng.random() < 0.5:
        text = rng.choice(_CAPTIONS) + text if rng.random() < 0.3 else text + rng.choice(_CAPTIONS)
    return text, False


def corpus(n: int, pool: list[str], seed: int = 7) -> tuple[list[str], list[int]]:
    """n normalized texts and the online-like cluster (index of the story founder) of each."""
    rng = random.Random(seed)
    texts: list[str] = []
    founders: list[int] = []
    while len(texts) < n:
        # real sentences, each reworded a little (a story shares phrases with others, not whole sentences)
        story = "".join(_typos(rng, sentence, 0.3) for sentence in rng.sample(pool, rng.randint(4, 12)))
        founder = len(texts)
        texts.append(story)
        founders.append(founder)
        copies = 0
        while rng.random() < 0.6 and copies < 40 and len(texts) < n:
            text, twin = repost(rng, story)
            founders.append(len(texts) if twin else founder)
            texts.append(text)
            copies += 1
    return texts, founders


def _sign(texts: list[str]) -> tuple[bytes, list[int]]:
    config = Settings().signature()
    values, counts = [], []
    for text in texts:
        shingles = shingle_hashes(text, config)
        values.append(minhash_values(shingles, config).tobytes())
        counts.append(len(shingles))
    return b"".join(values), counts


def sign_all(texts: list[str], workers: int = 2) -> tuple[np.ndarray, np.ndarray]:
    chunks = [texts[s:s + 20_000] for s in range(0, len(texts), 20_000)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_sign, chunks)
    matrix = np.frombuffer(b"".join(p[0] for p in parts), dtype=np.uint32).reshape(len(texts), -1)
    return matrix, np.array([c for p in parts for c in p[1]], dtype=np.int64)


# -- store ----------------------------------------------------------------------------------------
def build(db: Path, n: int) -> dict:
    from dedup.engine import Engine
    from dedup.store.sql import articles, clusters, signatures

    t = time.perf_counter()
    texts, founders = corpus(n, sentence_pool())
    generated = time.perf_counter() - t
    t = time.perf_counter()
    matrix, counts = sign_all(texts)
    signed = time.perf_counter() - t
    settings = Settings(database_url=str(db), redis_url=None)
    engine = Engine(settings, rebuild=False)
    version = engine.version
    t = time.perf_counter()
    day = "2026-11-21T00:00:00.000000+00:00"
    members: dict[int, list[int]] = {}
    with engine.store.engine.begin() as conn:
        for start in range(0, n, 20_000):
            stop = min(n, start + 20_000)
            conn.execute(articles.insert(), [
                {"id": k + 1, "url": f"https://bench.example/{k + 1}", "title": None, "source": "bench",
                 "published_at": None, "ingested_at": day, "raw_text": texts[k], "norm_text": texts[k],
                 "content_hash": hashlib.sha256(texts[k].encode()).hexdigest(), "cluster_id": founders[k] + 1}
                for k in range(start, stop)])
            conn.execute(signatures.insert(), [
                {"article_id": k + 1, "version": version, "hashvalues": matrix[k].tobytes(),
                 "shingle_count": int(counts[k])} for k in range(start, stop)])
        for k, f in enumerate(founders):
            members.setdefault(f + 1, []).append(k + 1)
        rows = [{"id": cid, "representative_id": min(ids), "size": len(ids), "first_seen": day, "last_seen": day}
                for cid, ids in members.items()]
        for start in range(0, len(rows), 50_000):
            conn.execute(clusters.insert(), rows[start:start + 50_000])
    stored = time.perf_counter() - t
    engine.close()
    np.save(db.with_suffix(".sig.npy"), matrix)
    return {"articles": n, "stories": len(members), "seconds_generate": round(generated, 1),
            "seconds_sign": round(signed, 1), "seconds_store": round(stored, 1)}


# -- runs -----------------------------------------------------------------------------------------
def run_child(db: Path, workers: int) -> None:
    """One re-cluster run in this process; prints the report as JSON."""
    from dedup.engine import Engine
    from dedup.recluster.run import run_recluster

    settings = Settings(database_url=str(db), redis_url=None, recluster_workers=workers)
    engine = Engine(settings, rebuild=False)
    started = time.perf_counter()
    report = run_recluster(engine, settings).as_dict()
    report["wall_s"] = round(time.perf_counter() - started, 1)
    report["peak_memory_mb_children"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    for key in ("changes",):
        report.pop(key)
    print(json.dumps(report))


def run(db: Path, workers: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", "--db", str(db), "--workers", str(workers)],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline(db: Path, n: int) -> dict:
    """The plain approach: one MinHashLSH insert + query per article, in arrival order."""
    from datasketch import MinHashLSH

    config = Settings().signature()
    matrix = np.load(db.with_suffix(".sig.npy"), mmap_mode="r")[:n]
    lsh = MinHashLSH(threshold=Settings().lsh_threshold, num_perm=config.num_perm)
    candidates = 0
    started = time.perf_counter()
    for k in range(len(matrix)):
        minhash = as_lean_minhash(np.asarray(matrix[k]), config)
        candidates += len(lsh.query(minhash))
        lsh.insert(k, minhash, check_duplication=False)
    seconds = time.perf_counter() - started
    return {"articles": len(matrix), "seconds": round(seconds, 1), "candidates": candidates,
            "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-n", type=int, default=100_000)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    db = args.db or ROOT / "data" / f"bench-{args.n}.db"
    if args.child:
        run_child(db, args.workers)
        return
    result: dict = {}
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        result["build"] = build(db, args.n)
        print(json.dumps(result["build"]), flush=True)
        db.with_suffix(".build.json").write_text(json.dumps(result["build"]))
    if args.build_only:
        return
    result["cold"] = run(db, args.workers)
    print(json.dumps(result["cold"]), flush=True)
    result["again"] = run(db, args.workers)
    print(json.dumps(result["again"]), flush=True)
    if args.baseline_n:
        plain = baseline(db, min(args.baseline_n, args.n))
        plain["extrapolated_seconds_at_n"] = round(plain["seconds"] * args.n / plain["articles"], 1)
        result["baseline"] = plain
        print(json.dumps(plain), flush=True)
    out = db.with_suffix(".result.json")
    out.write_text(json.dumps(result, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
