"""Shell completion, a `.env` file read at start, and `dedup config` (effective settings, secrets masked, the
store and index named)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from dedup.cli.commands import app
from dedup.settings import Settings

runner = CliRunner()


def test_shell_completion_is_offered():
    shown = runner.invoke(app, ["--show-completion", "bash"], prog_name="dedup")
    assert shown.exit_code == 0 and "_DEDUP_COMPLETE=complete_bash" in shown.output
    assert "--install-completion" in runner.invoke(app, ["--help"], prog_name="dedup").output


def test_a_dotenv_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("DEDUP_NGRAM", "DEDUP_API_KEY", "DEDUP_ALERT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("DEDUP_NGRAM=4\nDEDUP_API_KEY=from-the-file\nUNRELATED=1\n", encoding="utf-8")
    settings = Settings()
    assert settings.ngram == 4 and settings.api_key == "from-the-file"
    monkeypatch.setenv("DEDUP_NGRAM", "6")
    assert Settings().ngram == 6


def test_config_masks_secrets_and_names_the_store_and_index(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEDUP_API_KEY", "s3cret-api-key")
    monkeypatch.setenv("DEDUP_DATABASE_URL", "postgresql://dedup:hunter2@db.internal:5433/news")
    monkeypatch.setenv("DEDUP_REDIS_URL", "redis://:redispw@cache.internal:6380/2")
    shown = runner.invoke(app, ["config"])
    assert shown.exit_code == 0, shown.output
    assert "s3cret-api-key" not in shown.output and "hunter2" not in shown.output and "redispw" not in shown.output
    assert "store: PostgreSQL database news on db.internal:5433" in shown.output
    assert "index: shared Redis index at cache.internal:6380/2" in shown.output
    assert "DEDUP_API_KEY=****" in shown.output and "DEDUP_DATABASE_URL=postgresql://dedup:****@db.internal:5433/news" \
        in shown.output
    for name in ("DEDUP_API_KEY", "DEDUP_DATABASE_URL", "DEDUP_REDIS_URL"):
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text("DEDUP_NGRAM=4\n", encoding="utf-8")
    plain = json.loads(runner.invoke(app, ["config", "--json", "--db", str(tmp_path / "x.db")]).output)
    assert plain["store"] == f"SQLite file {tmp_path / 'x.db'}" and plain["index"].startswith("in-process")
    assert plain["env_file"] == str(tmp_path / ".env") and plain["settings"]["ngram"] == 4
    assert plain["settings"]["api_key"] is None
