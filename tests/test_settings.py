"""The one Settings object: one set of defaults, and a refusal, with what to fix, of values that cannot work."""

from __future__ import annotations

from dedup.config import DecisionConfig, SignatureConfig
from dedup.settings import Settings


def test_the_settings_run_with_the_frozen_configs_defaults(monkeypatch):
    for name in ("DEDUP_CONTAINMENT_THRESHOLD", "DEDUP_LSH_THRESHOLD", "DEDUP_JACCARD_THRESHOLD", "DEDUP_NGRAM"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.decision() == DecisionConfig()
    assert settings.signature() == SignatureConfig()
    # the values the quality figures were measured with
    assert (settings.containment_threshold, settings.lsh_threshold) == (0.75, 0.2)
