"""Quality on the labeled dev set (thresholds from the engine issue)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dedup.cli.commands import app
from dedup.quality.evaluate import evaluate, pair_metrics
from dedup.quality.judged_pairs import score_pairs
from dedup.settings import Settings

from .conftest import DEV_SET


def test_pair_metrics_on_a_known_assignment():
    precision, recall, f1, ari = pair_metrics([1, 1, 2, 2], ["a", "a", "b", "b"])
    assert (precision, recall, f1, ari) == (1.0, 1.0, 1.0, 1.0)
    precision, recall, _, _ = pair_metrics([1, 1, 1, 2], ["a", "a", "b", "b"])
    assert precision == pytest.approx(1 / 3) and recall == pytest.approx(1 / 2)


@pytest.mark.slow
def test_dev_set_quality(tmp_path):
    if not DEV_SET.is_file():
        pytest.skip(f"dev set not found at {DEV_SET}")
    report = evaluate(DEV_SET, Settings(database_url=str(tmp_path / "unused.db")))
    assert report.f1 >= 0.98
    assert report.false_merged_originals <= 3
    for recipe, value in report.recall_by_recipe.items():
        assert value >= 0.95, f"recall on {recipe} is {value:.3f}"


# --- judged pairs of a real crawl (the realworld set's format) ---

STORY = ("市气象台今天发布暴雨橙色预警信号，预计未来六小时内城区和东部山区将出现五十毫米以上的强降雨，"
         "局地伴有雷电和短时大风，请市民减少外出，注意防范城市内涝、山洪和地质灾害，相关部门已进入应急状态。")
OTHER = ("第十五届全市中学生机器人竞赛昨天在体育中心落幕，来自四十二所学校的三百多名选手参加了比赛，"
         "比赛设置了足球、救援和创意设计三个项目，最终实验中学代表队获得团体一等奖，组委会向获奖学生颁发证书。")


def _judged_files(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    rows = [{"url": "https://a.example/1", "title": "暴雨预警", "text": STORY},
            {"url": "https://b.example/1", "title": "暴雨预警", "text": "原标题：暴雨预警\n" + STORY + "\n（编辑：王明）"},
            {"url": "https://c.example/9", "title": "机器人竞赛", "text": OTHER},
            {"url": "https://d.example/0", "title": "空", "text": "，。！？"}]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    pairs = tmp_path / "pairs.jsonl"
    judged = [{"url_a": "https://a.example/1", "url_b": "https://b.example/1", "label": "duplicate",
               "stratum": "high", "pattern": "source_line"},
              {"url_a": "https://a.example/1", "url_b": "https://c.example/9", "label": "not_duplicate",
               "stratum": "low"},
              {"url_a": "https://c.example/9", "url_b": "https://d.example/0", "label": "unclear", "stratum": "low"}]
    pairs.write_text("\n".join(json.dumps(p) for p in judged), encoding="utf-8")
    strata = tmp_path / "strata.json"
    strata.write_text(json.dumps({"high": {"population": 10, "sampled": 1}, "low": {"population": 4, "sampled": 2}}))
    return corpus, pairs, strata


def test_judged_pairs_weigh_each_pair_by_its_stratum():
    pairs = [{"url_a": "a", "url_b": "b", "label": "duplicate", "stratum": "s1", "pattern": "excerpt"},
             {"url_a": "c", "url_b": "d", "label": "duplicate", "stratum": "s2", "pattern": "excerpt"},
             {"url_a": "e", "url_b": "f", "label": "not_duplicate", "stratum": "s2"},
             {"url_a": "g", "url_b": "h", "label": "unclear", "stratum": "s2"}]
    clusters = {"a": 1, "b": 1, "c": 2, "d": 3, "e": 4, "f": 4, "g": 5, "h": 5}
    strata = {"s1": {"population": 30, "sampled": 1}, "s2": {"population": 10, "sampled": 3}}
    report = score_pairs(pairs, clusters, strata)
    assert report.raw_recall == 0.5 and report.raw_false_merge_rate == 1.0 and report.unclear_clustered == 1
    # s1 pair weighs 30, s2 pairs 10/3: recall 30 / (30 + 3.33), precision 30 / (30 + 3.33)
    assert report.weighted_scan.recall == pytest.approx(0.9, abs=1e-4)
    assert report.weighted_scan.precision == pytest.approx(0.9, abs=1e-4)
    assert report.recall_by_pattern["excerpt"] == {"duplicate": 2, "clustered": 1, "recall": 0.5}


def test_judged_pairs_missing_articles_count_apart():
    pairs = [{"url_a": "a", "url_b": "b", "label": "duplicate"}]
    report = score_pairs(pairs, {}, None)
    assert report.raw_recall == 0.0 and report.missing_urls == 2 and report.weighted_scan is None


def test_eval_command_scores_judged_pairs_as_json(tmp_path):
    corpus, pairs, strata = _judged_files(tmp_path)
    result = CliRunner().invoke(app, ["eval", str(corpus), "--pairs", str(pairs), "--strata", str(strata), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["articles"] == 4 and report["rejected"] == 1
    assert report["raw_recall"] == 1.0 and report["raw_false_merge_rate"] == 0.0
    assert report["weighted_scan"]["recall"] == 1.0 and report["weighted_scan"]["precision"] == 1.0
    human = CliRunner().invoke(app, ["eval", str(corpus), "--pairs", str(pairs)])
    assert human.exit_code == 0 and "raw: recall 1.000" in human.output and "source_line" in human.output


def test_eval_command_refuses_bad_judged_input(tmp_path):
    corpus, pairs, strata = _judged_files(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"url_a": "x", "url_b": "y", "label": "dup"}), encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", str(corpus), "--pairs", str(bad)])
    assert result.exit_code == 1 and "label 'dup'" in result.output
    result = CliRunner().invoke(app, ["eval", str(corpus), "--strata", str(strata)])
    assert result.exit_code == 1 and "give --pairs too" in result.output
    other = tmp_path / "strata2.json"
    other.write_text(json.dumps({"high": {"population": 1, "sampled": 1}}))
    result = CliRunner().invoke(app, ["eval", str(corpus), "--pairs", str(pairs), "--strata", str(other)])
    assert result.exit_code == 1 and "strata file lacks: low" in result.output
