"""The one Settings object: one set of defaults, and a refusal, with what to fix, of values that cannot work."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dedup.cli.commands import app
from dedup.config import DecisionConfig, SignatureConfig
from dedup.settings import Settings


def test_the_settings_run_with_the_frozen_configs_defaults(monkeypatch):
    for name in ("DEDUP_CONTAINMENT_THRESHOLD", "DEDUP_LSH_THRESHOLD", "DEDUP_JACCARD_THRESHOLD", "DEDUP_NGRAM",
                 "DEDUP_SHORT_LSH_THRESHOLD", "DEDUP_SHORT_TEXT_SHINGLES"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.decision() == DecisionConfig()
    assert settings.signature() == SignatureConfig()
    # the values the quality figures were measured with
    assert (settings.containment_threshold, settings.lsh_threshold) == (0.75, 0.3)
    assert (settings.short_lsh_threshold, settings.short_text_shingles) == (0.2, 80)


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("DEDUP_RECLUSTER_CRON", "every night", "is not a cron expression"),
    ("DEDUP_LSH_THRESHOLD", "0.6", "must be below DEDUP_JACCARD_THRESHOLD"),
    ("DEDUP_SHORT_LSH_THRESHOLD", "0", "must be a fraction in (0, 1]"),
    ("DEDUP_SHORT_TEXT_SHINGLES", "-1", "greater than or equal to 0"),
    ("DEDUP_CONTAINMENT_THRESHOLD", "1.5", "must be a fraction in (0, 1]"),
    ("DEDUP_NGRAM", "40", "must be between 1 and 16"),
    ("DEDUP_MIN_SHARED_SHINGLES", "0", "must be between 1"),
    ("DEDUP_RECLUSTER_ENGINE", "flink", "'local' or 'spark'"),
])
def test_a_setting_that_cannot_work_is_refused_when_built_naming_what_to_fix(monkeypatch, variable, value, says):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError) as refused:
        Settings(_env_file=None)
    assert says in str(refused.value)
    assert variable in str(refused.value) or variable.removeprefix("DEDUP_").lower() in str(refused.value)


def test_the_command_line_refuses_a_bad_cron_with_a_message_and_a_non_zero_exit(monkeypatch, tmp_path):
    monkeypatch.setenv("DEDUP_RECLUSTER_CRON", "61 * * * *")
    result = CliRunner().invoke(app, ["config", "--db", str(tmp_path / "x.db")])
    assert result.exit_code != 0
    assert "DEDUP_RECLUSTER_CRON" in result.output and "Traceback" not in result.output
