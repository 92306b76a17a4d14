"""Every `dedup` command has help, is in the README, and runs (sqlite-utils' test_docs.py, for this CLI).

The tour below runs each command once, in an operator's order, on one small SQLite store, and checks what it
prints; a command added without a step here (or without help, or missing from the README) fails this file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from dedup.cli.commands import app
from dedup.cli.ops import WATCH_KINDS
from dedup.ops.alerts import KINDS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SEEDS = ROOT / "seeds"
ORIGINAL, REPOST, OTHER = (f"file://{path}" for path in sorted(SEEDS.glob("*.txt"))[:3])
# Alerts post to a closed local port: no network, and the webhook target is allowed only with this setting.
ENV = {"DEDUP_ALERTS_ALLOW_PRIVATE": "true", "DEDUP_ALERT_MAX_ATTEMPTS": "1", "DEDUP_REDIS_URL": ""}
HOOK = "http://127.0.0.1:9/hook"
WIRE_STORY = ("新华社北京电：长江中下游地区今年入梅时间较常年偏早一周，气象部门提醒沿江城市提前做好防汛准备，水利部已向湖北、安徽、"
              "江西等七省派出工作组，检查堤防水库安全度汛措施落实情况，督促各地加强值守。")


def _commands() -> dict[str, Any]:
    """Every runnable command by its words after `dedup` ("ingest", "watch add", ...)."""
    found: dict[str, Any] = {}

    def walk(group: Any, prefix: str) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):  # a group (typer's own click, not necessarily `click`)
                walk(command, f"{prefix}{name} ")
            else:
                found[f"{prefix}{name}"] = command

    walk(get_command(app), "")
    return found


COMMANDS = _commands()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name):
    assert (COMMANDS[name].help or "").strip(), f"dedup {name} has no help text"
    shown = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "Usage:" in shown.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_in_the_readme(name):
    assert f"dedup {name}" in README, f"`dedup {name}` is not in README.md"


def test_watch_help_names_every_kind_of_watch():
    assert WATCH_KINDS == ", ".join(KINDS)


def _tour(tmp: Path) -> list[tuple[list[str], int, str]]:
    """(arguments, exit code, text the output must contain), in order: later steps use what earlier ones made."""
    db = ["--db", str(tmp / "tour.db")]
    wire, copy = tmp / "wire.jsonl", tmp / "copy.jsonl"
    wire.write_text(json.dumps({"url": "https://wire.example/1", "text": WIRE_STORY, "source": "wire"},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    copy.write_text(json.dumps({"url": "https://copy.example/1", "text": WIRE_STORY + "（来源：新华社）",
                                "source": "copycat"}, ensure_ascii=False) + "\n", encoding="utf-8")
    pairs = tmp / "pairs.jsonl"
    return [
        (["ingest", *map(str, sorted(SEEDS.glob("*.txt"))), *db], 0,
         "5 inputs: 4 new stories, 1 duplicates, 0 unchanged, 0 updated, 0 metadata updated, 0 failed"),
        (["clusters", *db], 0, Path(REPOST).name),
        (["query", "--url", ORIGINAL, *db], 0, f"{REPOST} jaccard 0.86"),
        (["explain", ORIGINAL, REPOST, *db], 0, "decision: DUPLICATE"),
        (["export", "--format", "csv", *db], 0, f"{ORIGINAL},1,{ORIGINAL},True,1.0"),
        (["check", "--no-repair", *db], 0, '"added": 0'),
        (["boilerplate", *db], 0, "no boilerplate learned yet"),
        (["correct", "cannot-link", ORIGINAL, OTHER, "--note", "different days", *db], 0, "recorded: #1 "),
        (["corrections", *db], 0, "in force — different days"),
        (["withdraw", "1", *db], 0, "withdrawn"),
        (["eval", "--export-corrections", str(pairs), "--include-withdrawn", *db], 0, "1 judged pairs written"),
        (["recluster", "--dry-run", *db], 0, "(local, full, dry run): 5 articles"),
        (["runs", *db], 0, "run 1 dry_run (local, full, dry run)"),
        (["retention", "--days", "36500", "--dry-run", *db], 0, "0 deleted (dry run)"),
        (["delete", "--url", OTHER, "--dry-run", *db], 0, "would delete 1 articles"),
        (["delete", "--url", OTHER, *db], 0, f"({OTHER})"),
        (["ingest", str(wire), *db], 0, "1 new stories"),
        (["watch", "add", "source", "wire", "--target", HOOK, *db], 0, f"watch 1: source wire -> {HOOK}"),
        (["watch", "update", "1", "--note", "wire copies", *db], 0, "- wire copies"),
        (["watch", "list", *db], 0, f"watch 1: source wire -> {HOOK} - wire copies"),
        (["watch", "show", "1", *db], 0, '"target_url": "http://127.0.0.1:9/hook"'),
        (["ingest", str(copy), *db], 0, "duplicate of https://wire.example/1"),
        (["alerts", "send", *db], 0, "0 delivered, 0 failed and queued for a retry, 1 dead-lettered"),
        (["watch", "deliveries", "1", *db], 0, "dead, article 7, 1 attempts"),
        (["watch", "retry", "1", "1", *db], 0, "delivery 1 queued again"),
        (["watch", "remove", "1", *db], 0, "watch 1 removed"),
        (["config", *db], 0, "DEDUP_NGRAM=5"),
        (["scheduler", "--cron", "every night", *db], 1, "DEDUP_RECLUSTER_CRON 'every night' is not a cron expression"),
        # Starting the server for real: tests/test_serve.py; here the refusal a user meets first.
        (["serve", "--workers", "2", *db], 2, "--workers 2 on SQLite with an in-process index"),
    ]


def test_every_command_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env file
    runner = CliRunner()
    ran: set[str] = set()
    for args, code, expected in _tour(tmp_path):
        result = runner.invoke(app, args, env={**ENV, "COLUMNS": "250"})
        shown = " ".join(result.output.split())
        assert result.exit_code == code and expected in shown, f"dedup {' '.join(args)}:\n{result.output}"
        ran.add(next(name for name in (" ".join(args[:2]), args[0]) if name in COMMANDS))
    assert set(COMMANDS) - ran == set(), "commands no test runs"
