"""The first acceptance test: the five real seed articles."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from dedup.cli.commands import app


def test_seed_repost_clusters_with_original_and_same_theme_stories_stay_apart(tmp_path, seed_files):
    db = str(tmp_path / "seeds.db")
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(seed_files[0].parent), "--db", db])
    assert result.exit_code == 0, result.output
    assert "duplicate of" in result.output

    result = runner.invoke(app, ["clusters", "--min-size", "2", "--json", "--db", db])
    assert result.exit_code == 0, result.output
    clusters = json.loads(result.output)
    assert len(clusters) == 1
    names = sorted(m["url"].rsplit("/", 1)[-1][:3] for m in clusters[0]["members"])
    assert names == ["000", "001"]


def test_same_theme_seeds_are_not_duplicates_of_each_other(engine, seed_files):
    from dedup.models import ArticleIn

    results = [engine.ingest(ArticleIn(url=f"https://example.com/{p.stem}", text=p.read_text())) for p in seed_files]
    assert results[1].is_duplicate and results[1].duplicate_of.endswith(seed_files[0].stem)
    for r in (results[0], results[2], results[3], results[4]):
        assert not r.is_duplicate
    assert len({r.cluster_id for r in results[2:]}) == 3
