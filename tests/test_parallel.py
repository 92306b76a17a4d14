"""Preparing articles in worker processes (`--jobs`) gives the verdicts and clusters of one process."""

from __future__ import annotations

import json
import pickle
from itertools import islice

import numpy as np
import pytest
from typer.testing import CliRunner

from dedup.article_files import article_from_json
from dedup.cli.commands import app
from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.parallel import ingest_stream
from dedup.settings import Settings
from tests.api_backends import backend_settings
from tests.conftest import DEV_SET
from tests.test_learned_boilerplate import PROMO, SOURCE, STORIES


def _dev_articles(count: int) -> list[ArticleIn]:
    with DEV_SET.open(encoding="utf-8") as lines:
        return [article_from_json(json.loads(line)) for line in islice(lines, count)]


def _run(settings: Settings, articles: list[ArticleIn], jobs: int, chunk: int) -> tuple[list, dict[str, frozenset]]:
    """Each article's verdict, and the clustering as the set of member URLs of each article's cluster."""
    engine = Engine(settings)
    try:
        chunks = [articles[i:i + chunk] for i in range(0, len(articles), chunk)]
        verdicts = []
        for _, results in ingest_stream(engine, chunks, jobs):
            verdicts += [type(r).__name__ if isinstance(r, Exception) else
                         (r.status, r.is_duplicate, r.duplicate_of, [m.url for m in r.matches]) for r in results]
        members: dict[int, set[str]] = {}
        urls = {}
        for article in engine.store.iter_articles():
            members.setdefault(article.cluster_id, set()).add(article.url)
            urls[article.url] = article.cluster_id
        return verdicts, {url: frozenset(members[cluster]) for url, cluster in urls.items()}
    finally:
        engine.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql+redis"])
def test_two_jobs_cluster_the_dev_stream_as_one_does(backend, tmp_path):
    articles = _dev_articles(600)
    articles.append(ArticleIn(url="https://bad.example/empty", text="，。！？"))  # refused in the worker
    runs = []
    for jobs in (1, 2):
        with backend_settings(backend, tmp_path / str(jobs)) as settings:
            (tmp_path / str(jobs)).mkdir(exist_ok=True)
            runs.append(_run(settings, articles, jobs, chunk=50))
    assert runs[0] == runs[1]
    assert runs[0][0][-1] == "EmptyText"
    assert any(v[1] for v in runs[0][0][:-1])  # the stream holds duplicates


def test_boilerplate_learned_while_workers_run_ahead_is_applied_as_in_one_process(tmp_path):
    """Workers prepare chunks before the promo is learned from earlier ones; the verdicts do not change."""
    articles = [ArticleIn(url=f"https://news.example/{round_}/{n}", title=f"{title}（{round_}）",
                          text=f"{body}\n{PROMO}", source=SOURCE)
                for round_ in range(3) for n, (title, body) in enumerate(STORIES)]
    runs = []
    for jobs in (1, 2):
        settings = Settings(database_url=str(tmp_path / f"{jobs}.db"), redis_url=None)
        runs.append(_run(settings, articles, jobs, chunk=2))
    assert runs[0] == runs[1]
    verdicts, clusters = runs[0]
    # The same story's rounds join one cluster; different stories stay apart despite the shared promo.
    assert len(set(clusters.values())) == len(STORIES)


def test_cli_ingest_with_jobs_or_the_default_prints_what_one_job_prints(tmp_path, monkeypatch):
    import dedup.cli.commands

    monkeypatch.setattr(dedup.cli.commands, "_BATCH", 50)  # several chunks, so workers prepare ahead
    path = tmp_path / "in.jsonl"
    rows = [json.dumps({"url": a.url, "text": a.text}) for a in _dev_articles(200)]
    path.write_text("\n".join(rows[:100] + ["{not json", json.dumps({"url": "https://x.example/1", "text": " "})]
                              + rows[100:]), encoding="utf-8")
    outputs = []
    for jobs in (["--jobs", "1"], ["--jobs", "2"], []):  # the last: the default, this machine's cores
        result = CliRunner().invoke(app, ["ingest", str(path), "--db", str(tmp_path / f"{len(outputs)}.db"), *jobs])
        assert result.exit_code == 1  # two bad lines
        outputs.append(result.output)
    assert outputs[0] == outputs[1] == outputs[2]
    assert "202 inputs" in outputs[0] and "invalid JSON on line 101" in outputs[0]


def test_the_recluster_re_signs_in_workers_as_in_one_process(tmp_path):
    from dedup.recluster.snapshot import resign_stale

    settings = Settings(database_url=str(tmp_path / "r.db"), redis_url=None)
    engine = Engine(settings)
    engine.ingest_many(_dev_articles(150))
    engine.close()
    changed = Engine(settings.model_copy(update={"ngram": 4}))  # every stored signature is now stale
    try:
        one, failed_one = resign_stale(changed, write=False, batch=60, workers=1)
        two, failed_two = resign_stale(changed, write=False, batch=60, workers=2)
        assert failed_one == failed_two and len(one) > 100
        assert {k: (v[0].tolist(), v[1], v[2]) for k, v in one.items()} == \
            {k: (v[0].tolist(), v[1], v[2]) for k, v in two.items()}
        resign_stale(changed, batch=60, workers=2)
        for article in changed.store.iter_articles():
            assert article.sig_version == changed.version
            assert article.hashvalues == changed.prepare(article.raw_text, title=article.title).values.tobytes()
    finally:
        changed.close()


def test_a_prepared_article_crosses_to_the_deciding_process_unchanged(engine):
    """Workers pickle each preparation (arrays as their bytes): what arrives is the same, and writable like a fresh one."""
    title, body = STORIES[0]
    prepared = engine.prepare(f"{body}\n{PROMO}", title=title)
    arrived = pickle.loads(pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL))
    assert arrived.normalized == prepared.normalized and arrived.content_hash == prepared.content_hash
    assert (arrived.generation, arrived.headline) == (prepared.generation, prepared.headline)
    for name in ("shingles", "values", "anchors"):
        sent, got = getattr(prepared, name), getattr(arrived, name)
        assert got.dtype == sent.dtype and np.array_equal(got, sent) and got.flags.writeable


def test_the_default_number_of_jobs_is_the_usable_cores_up_to_four(monkeypatch):
    import dedup.parallel

    for cores, expected in ((1, 1), (2, 2), (64, 4)):
        monkeypatch.setattr(dedup.parallel.os, "sched_getaffinity", lambda _pid, n=cores: set(range(n)), raising=False)
        assert dedup.parallel.default_jobs() == expected


def test_preparing_workers_yield_the_core_to_the_deciding_process(engine):
    """Workers run ahead of the decisions; at a lower priority they never take the deciding process's core (the
    critical path) when more processes than cores are runnable."""
    import os

    from dedup.parallel import _WORKER_NICENESS, _pool

    if not hasattr(os, "nice"):
        pytest.skip("no process priorities on this platform")
    with _pool(engine, 1) as pool:
        worker = pool.submit(os.nice, 0).result()
    assert worker == min(19, os.nice(0) + _WORKER_NICENESS)
