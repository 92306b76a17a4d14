"""Quality on the labeled dev set (thresholds from the engine issue)."""

from __future__ import annotations

import pytest

from dedup.evaluate import evaluate, pair_metrics
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
