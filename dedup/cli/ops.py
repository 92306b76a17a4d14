"""Operators' commands: watches and alert sending (`dedup watch ...`, `dedup alerts send`), exports, and
`dedup config`. Registered on the main `dedup` app by dedup/cli/commands.py."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated

import typer

from dedup.cli.commands import DbOption, _engine, _fail, _settings, app, out
from dedup.errors import DedupError

if TYPE_CHECKING:
    from dedup.ops.alerts import Watch

# Spelled out rather than imported from dedup.ops.alerts (which loads the store): tests/test_cli_commands.py checks
# that it names every kind.
WATCH_KINDS = "article, cluster, source, url_prefix"

watch_app = typer.Typer(no_args_is_help=True, help="Repost alerts: what to watch and where to post.")
alerts_app = typer.Typer(no_args_is_help=True, help="Send the queued repost alerts.")
app.add_typer(watch_app, name="watch")
app.add_typer(alerts_app, name="alerts")
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _watch_line(watch: Watch) -> str:
    state = "" if watch.active else " (paused)"
    note = f" - {watch.note}" if watch.note else ""
    return f"watch {watch.id}: {watch.kind} {watch.value} -> {watch.target_url}{state}{note}"


def _run(db: str | None, action):  # type: ignore[no-untyped-def]
    """Open the engine (no index rebuild: watches need none), run `action`, turn engine errors into exit 1."""
    engine = _engine(_settings(db), rebuild=False)
    try:
        return action(engine)
    except DedupError as exc:
        _fail(str(exc))
    finally:
        engine.close()


@watch_app.command("add")
def watch_add(
    kind: Annotated[str, typer.Argument(help=f"What to follow: {WATCH_KINDS}")],
    value: Annotated[str, typer.Argument(help="Article id or URL, cluster id, source name, or URL prefix")],
    target: Annotated[str, typer.Option("--target", help="http(s) URL the alerts are POSTed to")],
    secret: Annotated[str | None, typer.Option(help="HMAC key of X-Dedup-Signature (generated when absent)")] = None,
    note: Annotated[str | None, typer.Option(help="Free text shown with the watch")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Watch an article, cluster, source or URL prefix; prints the watch and its secret (shown only now)."""
    watch = _run(db, lambda e: e.watches.add(kind, value, target, secret=secret, note=note, created_by="cli"))
    if as_json:
        out.print_json(json.dumps(watch.public(with_secret=True), ensure_ascii=False))
        return
    out.print(_watch_line(watch), highlight=False)
    out.print(f"secret (for X-Dedup-Signature, shown once): {watch.secret}", highlight=False)


@watch_app.command("list")
def watch_list(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most watches to print")] = 50,
    after: Annotated[int, typer.Option(min=0, help="Only watches with a larger id (the next page)")] = 0,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Watches, oldest first; `--after` the last id printed gives the next page."""
    found = _run(db, lambda e: e.watches.list(limit, after))
    if as_json:
        out.print_json(json.dumps([w.public() for w in found], ensure_ascii=False))
        return
    for watch in found:
        out.print(_watch_line(watch), highlight=False)
    if not found:
        out.print("no watches" + (f" after id {after}" if after else ""))


@watch_app.command("show")
def watch_show(watch_id: int, db: DbOption = None) -> None:
    """One watch."""
    out.print_json(json.dumps(_run(db, lambda e: e.watches.get(watch_id)).public(), ensure_ascii=False))


@watch_app.command("update")
def watch_update(
    watch_id: int,
    target: Annotated[str | None, typer.Option("--target", help="New target URL")] = None,
    note: Annotated[str | None, typer.Option(help="New note")] = None,
    active: Annotated[bool | None, typer.Option("--resume/--pause", help="Resume or pause the watch")] = None,
    new_secret: Annotated[bool, typer.Option("--new-secret", help="Replace the secret (printed)")] = False,
    db: DbOption = None,
) -> None:
    """Change a watch's target or note, pause or resume it, or replace its secret."""
    watch = _run(db, lambda e: e.watches.update(watch_id, target_url=target, note=note, active=active,
                                                new_secret=new_secret))
    out.print(_watch_line(watch), highlight=False)
    if new_secret:
        out.print(f"new secret (shown once): {watch.secret}", highlight=False)


@watch_app.command("remove")
def watch_remove(watch_id: int, db: DbOption = None) -> None:
    """Delete a watch and its delivery log (its pending alerts are not sent)."""
    _run(db, lambda e: e.watches.remove(watch_id))
    out.print(f"watch {watch_id} removed")


@watch_app.command("deliveries")
def watch_deliveries(
    watch_id: int,
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    before: Annotated[int | None, typer.Option(min=1, help="Only deliveries with a smaller id (the next page)")]
    = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """A watch's delivery log, newest first."""
    rows = _run(db, lambda e: e.watches.deliveries(watch_id, limit, before, status))
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        answer = r["last_status"] or r["last_error"] or "-"
        out.print(f"delivery {r['id']}: {r['status']}, article {r['article_id']}, {r['attempts']} attempts, "
                  f"last answer {answer}, created {r['created_at']}", highlight=False)
    if not rows:
        out.print(f"watch {watch_id} has no deliveries" + (f" {status}" if status else ""))


@watch_app.command("retry")
def watch_retry(watch_id: int, delivery_id: int, db: DbOption = None) -> None:
    """Queue a dead-lettered delivery again (sent by the server's sender or `dedup alerts send`)."""
    _run(db, lambda e: e.watches.retry(watch_id, delivery_id))
    out.print(f"delivery {delivery_id} queued again")


@alerts_app.command("send")
def alerts_send(
    loop: Annotated[bool, typer.Option("--loop", help="Keep sending until stopped (as a server does)")] = False,
    db: DbOption = None,
) -> None:
    """Post every alert due now (retries that are not due yet wait); with --loop, run as a sender process."""
    from dedup.ops.alerts import AlertSender

    settings = _settings(db)

    def send(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
        sender = AlertSender(engine.store, settings)
        total = {"delivered": 0, "retry": 0, "dead": 0}
        while True:
            counts = sender.send_due()
            for key, value in counts.items():
                total[key] += value
            if not sum(counts.values()):
                if not loop:
                    return total
                time.sleep(settings.alert_poll_interval)

    total = _run(db, send)
    out.print(f"{total['delivered']} delivered, {total['retry']} failed and queued for a retry, "
              f"{total['dead']} dead-lettered", highlight=False)


@app.command("config")
def config(db: DbOption = None, as_json: JsonOption = False) -> None:
    """The effective settings (environment, .env file, options), secrets masked, and the store and index in use."""
    from dedup.settings import backends, masked

    settings = _settings(db)
    where, values = backends(settings), masked(settings)
    if as_json:
        out.print_json(json.dumps({**where, "settings": values}, ensure_ascii=False, default=str))
        return
    out.print(f"store: {where['store']}", highlight=False)
    out.print(f"index: {where['index']}", highlight=False)
    out.print(f".env file: {where['env_file']}", highlight=False)
    for name, value in values.items():
        out.print(f"DEDUP_{name.upper()}={'' if value is None else value}", highlight=False)
