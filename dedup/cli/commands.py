"""The `dedup` command line: maps engine errors to messages and non-zero exits."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from dedup.errors import DedupError

if TYPE_CHECKING:  # the engine, its store and the web server load only in the commands that use them
    from dedup.article_files import SourceItem
    from dedup.engine import Engine
    from dedup.models import ArticleIn, IngestResult
    from dedup.quality.judged_pairs import JudgedReport
    from dedup.settings import Settings

app = typer.Typer(add_completion=True, no_args_is_help=True, help="Near-duplicate detection for news articles.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DbOption = Annotated[str | None, typer.Option("--db", help="SQLite path or database URL (DEDUP_DATABASE_URL)")]
_BATCH = 500


# Settings given as global options (dedup --ngram 4 ingest ...); they override the environment.
_overrides: dict[str, object] = {}


def _print_version(value: bool) -> None:
    """`dedup --version`: the package version, and whether the compiled accelerator is in use."""
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    from dedup.sketch.accelerator import describe

    try:
        number = version("dedup")
    except PackageNotFoundError:
        number = "(not installed: source tree)"
    out.print(f"dedup {number}", highlight=False)
    out.print(describe(), highlight=False)
    raise typer.Exit()


@app.callback()
def _global_options(
    ngram: Annotated[int | None, typer.Option(help="Characters per CJK shingle (DEDUP_NGRAM)")] = None,
    num_perm: Annotated[int | None, typer.Option(help="MinHash permutations (DEDUP_NUM_PERM)")] = None,
    jaccard: Annotated[float | None, typer.Option(help="Jaccard threshold (DEDUP_JACCARD_THRESHOLD)")] = None,
    containment: Annotated[float | None, typer.Option(
        help="Containment threshold (DEDUP_CONTAINMENT_THRESHOLD)")] = None,
    lsh_threshold: Annotated[float | None, typer.Option(help="LSH candidate threshold (DEDUP_LSH_THRESHOLD)")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and whether the compiled accelerator is in use")]
    = False,
) -> None:
    """Near-duplicate detection for news articles."""
    _overrides.clear()
    _overrides.update({"ngram": ngram, "num_perm": num_perm, "jaccard_threshold": jaccard,
                       "containment_threshold": containment, "lsh_threshold": lsh_threshold})


def _settings(db: str | None, *, recluster_cron: str | None = None) -> Settings:
    """Environment, then global options, then the command's own options (None means "not given"). The command
    options are named parameters, not `**options`, so mypy refuses one that is not a setting's (a scheduler
    once crashed at start on such a keyword)."""
    from dedup.settings import Settings

    try:
        base = Settings()
        options = {"recluster_cron": recluster_cron}
        update = {k: v for k, v in {**_overrides, **options}.items() if v is not None}
        if db:
            update["database_url"] = db
        settings = Settings(**{**base.model_dump(), **update})
        settings.decision()
        settings.signature()
        return settings
    except ValueError as exc:
        _fail(f"invalid settings: {_setting_problems(exc)}")
        raise


def _setting_problems(exc: ValueError) -> str:
    """pydantic's messages without its boilerplate (field headers, 'Value error,', documentation links)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    return "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in errors())


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _engine(settings: Settings, *, rebuild: bool = True) -> Engine:
    from dedup.candidates.index import UnsafeIndex
    from dedup.engine import Engine

    try:
        return Engine(settings, rebuild=rebuild, preload=False)  # a command loads the dictionaries it uses
    except UnsafeIndex as exc:
        _fail(str(exc), 2)
        raise
    except Exception as exc:  # noqa: BLE001 - an unreachable database must not print a traceback
        _fail(f"cannot open the store at {settings.database_url}: {exc}")
        raise


def _verdict_line(origin: str, result: IngestResult) -> str:
    if result.judged is not None:
        judged = result.judged
        return (f"{origin}: duplicate of {result.duplicate_of} (jaccard {judged.jaccard:.2f}, "
                f"containment {judged.containment:.2f}) cluster {result.cluster_id}")
    return f"{origin}: new story, cluster {result.cluster_id}"


JobsOption = Annotated[int | None, typer.Option(
    "--jobs", "-j", min=1, help="Processes preparing articles (normalize, shingle, sign) while this one decides and "
    "writes in input order; same verdicts as --jobs 1. The deciding process bounds the gain: 1.1-1.25x on two cores "
    "(docs/benchmarks.md) [default: the cores this process may use, at most 4]")]


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(
        help=".txt/.html/.md files, folders, JSONL, JSON arrays (.json) or CSV with a header row")],
    db: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary")] = False,
    jobs: JobsOption = None,
) -> None:
    """Store articles and print a verdict for each."""
    from rich.progress import BarColumn, Progress, TextColumn

    from dedup.article_files import iter_sources
    from dedup.parallel import default_jobs, ingest_stream

    engine = _engine(_settings(db))
    counts = {"new": 0, "duplicate": 0, "unchanged": 0, "updated": 0, "metadata_updated": 0, "failed": 0}
    # Read as ingested, a chunk at a time: a large input is never held whole (see article_files.read_jsonl).
    chunks = _batches(iter_sources(paths), _BATCH)
    inputs = 0
    with Progress(TextColumn("ingest"), BarColumn(), TextColumn("{task.completed} inputs"), console=err,
                  disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("ingest", total=None)
        for good, results in ingest_stream(engine, chunks, jobs or default_jobs(), article=_article_of):
            chunk = good.inputs  # type: ignore[attr-defined]
            _count_chunk(chunk, good, results, counts, quiet)
            inputs += len(chunk)
            progress.advance(task, len(chunk))
    engine.close()
    out.print(f"{inputs} inputs: {counts['new']} new stories, {counts['duplicate']} duplicates, "
              f"{counts['unchanged']} unchanged, {counts['updated']} updated, "
              f"{counts['metadata_updated']} metadata updated, {counts['failed']} failed",
              highlight=False)
    if counts["failed"]:
        raise typer.Exit(1)


class _Chunk(list):
    """The inputs of one chunk that parsed (what is ingested), with all its `inputs` (errors too, to report)."""

    inputs: list[SourceItem]


def _batches(items: Iterator[SourceItem], size: int) -> Iterator[_Chunk]:
    while batch := list(islice(items, size)):
        chunk = _Chunk(item for item in batch if item.article is not None)
        chunk.inputs = batch
        yield chunk


def _article_of(item: SourceItem) -> ArticleIn:
    """The article of an input that parsed (the stream is given only those)."""
    assert item.article is not None
    return item.article


def _count_chunk(chunk: Sequence, good: Sequence, results: list, counts: dict[str, int], quiet: bool) -> None:
    for item in chunk:
        if item.error:
            counts["failed"] += 1
            err.print(f"[red]error:[/red] {item.origin}: {item.error}", highlight=False)
    for item, result in zip(good, results):
        if isinstance(result, Exception):
            counts["failed"] += 1
            err.print(f"[red]error:[/red] {item.origin}: {result}", highlight=False)
            continue
        if result.status in ("unchanged", "updated", "metadata_updated"):
            counts[result.status] += 1
        counts["duplicate" if result.is_duplicate else "new"] += result.status == "created"
        if not quiet:
            out.print(_verdict_line(item.origin, result), highlight=False)


@app.command()
def query(
    text: Annotated[str | None, typer.Option("--text", help="Raw text to look up")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="File whose text to look up")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Stored article's URL")] = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Duplicates of a text (not stored) or of a stored article."""
    if sum(x is not None for x in (text, file, url)) != 1:
        _fail("give exactly one of --text, --file or --url", 2)
    engine = _engine(_settings(db))
    try:
        if url is not None:
            matches = engine.duplicates_of(engine.get_article_by_url(url).id)
        else:
            if file is not None:
                try:
                    text = file.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    _fail(f"cannot read {file}: {exc}")
            matches = engine.query_text(text or "", is_html=True if file and file.suffix in (".html", ".htm") else None)
    except DedupError as exc:
        _fail(str(exc))
        return
    if as_json:
        out.print_json(json.dumps([asdict(m) for m in matches], ensure_ascii=False))
        return
    if not matches:
        out.print("no duplicates")
    for m in matches:
        out.print(f"{m.url}  jaccard {m.jaccard:.2f}  containment {m.containment:.2f}  cluster {m.cluster_id}",
                  highlight=False)


@app.command()
def clusters(
    min_size: Annotated[int, typer.Option("--min-size", min=1)] = 2,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Clusters, newest first, with their members."""
    from rich.table import Table

    engine = _engine(_settings(db))
    found = engine.all_clusters(min_size)
    if as_json:
        payload = [{"id": c.id, "size": c.size, "representative_id": c.representative_id,
                    "first_seen": c.first_seen, "last_seen": c.last_seen,
                    "members": [{"id": m.id, "url": m.url, "title": m.title} for m in members]}
                   for c, members in found]
        out.print_json(json.dumps(payload, ensure_ascii=False))
        return
    table = Table("cluster", "size", "representative", "members")
    for c, members in found:
        rep = next(m for m in members if m.id == c.representative_id)
        table.add_row(str(c.id), str(c.size), rep.title or rep.url, "\n".join(m.url for m in members))
    out.print(table)


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or parquet")] = "jsonl",
    keep: Annotated[str, typer.Option("--keep", help="all, or one-per-cluster (only representatives: the "
                                      "deduplicated dataset)")] = "all",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (stdout when absent; "
                                                "required for parquet)")] = None,
    db: DbOption = None,
) -> None:
    """Every article with url, cluster_id, representative_url, is_representative, score (exact Jaccard to the
    representative), containment, source, title, published_at; cluster by cluster, representative first."""
    from dedup.ops.export import FORMATS, KEEPS, csv_chunks, iter_rows, jsonl_chunks, write_parquet

    if fmt not in FORMATS:
        _fail(f"unknown format {fmt!r}; use {', '.join(FORMATS)}", 2)
    if keep not in KEEPS:
        _fail(f"unknown --keep {keep!r}; use {' or '.join(KEEPS)}", 2)
    if fmt == "parquet" and output is None:
        _fail("parquet is a binary file format: give --output FILE", 2)
    settings = _settings(db)
    engine = _engine(settings, rebuild=False)
    rows = iter_rows(engine.store, engine.sig_config, keep)
    try:
        if fmt == "parquet":
            count = write_parquet(rows, output)  # type: ignore[arg-type]
            err.print(f"{count} rows written to {output}", highlight=False)
            return
        chunks = jsonl_chunks(rows) if fmt == "jsonl" else csv_chunks(rows)
        with (output.open("w", encoding="utf-8", newline="") if output else _stdout()) as sink:
            for chunk in chunks:
                sink.write(chunk)
    except OSError as exc:
        _fail(f"cannot write {output or 'stdout'}: {exc.strerror or exc}")
    finally:
        engine.close()


def _stdout() -> Any:
    """stdout as a context manager that is not closed afterwards."""
    from contextlib import nullcontext

    return nullcontext(sys.stdout)


@app.command()
def explain(url_a: str, url_b: str, db: DbOption = None,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Scores, decision, reason, shared and differing passages of two stored articles."""
    engine = _engine(_settings(db))
    try:
        x = engine.explain(engine.get_article_by_url(url_a).id, engine.get_article_by_url(url_b).id)
    except DedupError as exc:
        _fail(str(exc))
        return
    s = x.verdict.scores
    if as_json:
        out.print_json(json.dumps({
            "jaccard": s.jaccard, "containment": s.containment, "is_duplicate": x.verdict.is_duplicate,
            "reason": x.verdict.reason, "shared": [asdict(p) for p in x.shared],
            "differing": [asdict(p) for p in x.differing]}, ensure_ascii=False))
        return
    out.print(f"decision: {'DUPLICATE' if x.verdict.is_duplicate else 'not a duplicate'} — {x.verdict.reason}",
              highlight=False)
    out.print(f"jaccard {s.jaccard:.3f}, containment {s.containment:.3f}, shared shingles {s.shared} "
              f"of {s.size_a} / {s.size_b}", highlight=False)
    out.print(f"shared passages ({len(x.shared)}):")
    for p in x.shared[:20]:
        out.print(f"  = {p.a[:80]}", highlight=False)
    out.print(f"differing passages ({len(x.differing)}):")
    for p in x.differing[:40]:
        out.print(f"  {p.kind:7} a: {p.a[:60]!r}  b: {p.b[:60]!r}", highlight=False)


@app.command("eval")
def eval_command(
    dataset: Annotated[Path | None, typer.Argument(
        help="Labeled JSONL (url, text|html, label, recipe); with --pairs, the corpus the pairs point into")] = None,
    pairs: Annotated[Path | None, typer.Option(
        help="Judged pairs JSONL (url_a, url_b, label duplicate/not_duplicate/unclear, stratum, pattern)")] = None,
    strata: Annotated[Path | None, typer.Option(
        help="Strata JSON ({stratum: {population, sampled}}) for weighted figures; needs --pairs")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for machines")] = False,
    export_corrections: Annotated[Path | None, typer.Option(
        "--export-corrections", help="Write the store's corrections (--db) as judged pairs to this JSONL file "
        "(must-link: duplicate, cannot-link: not_duplicate), for --pairs")] = None,
    include_withdrawn: Annotated[bool, typer.Option("--include-withdrawn",
                                                    help="With --export-corrections: withdrawn ones too")] = False,
    db: DbOption = None,
    jobs: JobsOption = None,
) -> None:
    """Ingest a labeled set (or a corpus with judged pairs) into a fresh temporary store and print quality figures;
    or export the operators' corrections as judged pairs (--export-corrections)."""
    from dedup.parallel import default_jobs
    from dedup.quality.evaluate import evaluate
    from dedup.quality.judged_pairs import evaluate_judged

    if export_corrections is not None:
        _export_corrections(export_corrections, db, include_withdrawn)
        return
    if dataset is None:
        _fail("give a dataset, or --export-corrections FILE", 2)
        return
    for path in (dataset, pairs, strata):
        if path is not None and not path.is_file():
            _fail(f"{path} does not exist")
    if strata is not None and pairs is None:
        _fail("--strata weighs judged pairs: give --pairs too")
    try:
        if pairs is not None:
            judged = evaluate_judged(dataset, pairs, _settings(None), strata, jobs=jobs or default_jobs())
            if as_json:
                out.print_json(json.dumps(judged.as_dict()))
            else:
                _print_judged(judged)
            return
        report = evaluate(dataset, _settings(None), jobs=jobs or default_jobs())
    except DedupError as exc:
        _fail(str(exc))
        return
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
        return
    out.print(f"articles {report.articles}  precision {report.precision:.4f}  recall {report.recall:.4f}  "
              f"F1 {report.f1:.4f}  ARI {report.ari:.4f}", highlight=False)
    out.print(f"merged pairs of different-event originals: {report.false_merged_originals}", highlight=False)
    for recipe, value in report.recall_by_recipe.items():
        out.print(f"  recall {recipe:16} {value:.3f}", highlight=False)
    out.print(f"({report.seconds:.1f} s)", highlight=False)


def _export_corrections(path: Path, db: str | None, include_withdrawn: bool) -> None:
    from dedup.clusters.corrections import judged_pairs

    engine = _engine(_settings(db), rebuild=False)
    try:
        pairs = judged_pairs(engine, include_withdrawn=include_withdrawn)
    finally:
        engine.close()
    try:
        path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {path}: {exc}")
    out.print(f"{len(pairs)} judged pairs written to {path}", highlight=False)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print_judged(report: JudgedReport) -> None:
    labels = ", ".join(f"{k} {v}" for k, v in report.labels.items())
    out.print(f"articles {report.articles} ({report.rejected} rejected)  pairs {report.pairs}: {labels}",
              highlight=False)
    out.print(f"raw: recall {_fmt(report.raw_recall)}  false-merge rate {_fmt(report.raw_false_merge_rate)}  "
              f"precision {_fmt(report.raw_precision)}  unclear clustered {report.unclear_clustered}", highlight=False)
    for name, weighted in (("weighted (scan)", report.weighted_scan), ("weighted (all)", report.weighted_all)):
        if weighted is not None:
            out.print(f"{name}: recall {_fmt(weighted.recall)}  precision {_fmt(weighted.precision)}",
                      highlight=False)
    for pattern, counts in report.recall_by_pattern.items():
        out.print(f"  recall {pattern:18} {counts['clustered']:>3} / {counts['duplicate']:<3} "
                  f"{_fmt(counts['recall'])}", highlight=False)
    out.print(f"({report.seconds:.1f} s)", highlight=False)


@app.command()
def check(db: DbOption = None,
          repair: Annotated[bool, typer.Option("--repair/--no-repair",
                                               help="Repair (default) or only report the differences")] = True,
          ) -> None:
    """Verify the index against the stored signatures and every cluster invariant, and repair what differs.

    Prints what it found before repairing: `added` (stored but not indexed), `removed` (indexed but not stored),
    and per cluster invariant the number of clusters or articles breaking it (`empty_clusters`, `wrong_sizes`,
    `wrong_representatives`, `wrong_times`, `negative_ids`, `articles_without_cluster`, `stale_aliases`), and
    the signatures against the stored texts (`wrong_signatures`, recomputed; `stale_signatures`, made under
    other settings: the next re-cluster re-signs them); `repaired` counts what was fixed. A second run printing
    zeros shows everything agrees. The in-process index of the embedded default exists only inside a server
    (which catches up with what this command repairs); here it is rebuilt, so `added`/`removed` stay 0.
    With --no-repair the exit status is 1 when anything is wrong (stale signatures are not wrong: the next
    re-cluster re-signs them), so a monitoring job can run it.
    """
    engine = _engine(_settings(db), rebuild=False)
    if not engine.index.shared:
        engine.sync_index()
    found = engine.check(repair=repair)
    out.print(json.dumps(found))
    if not repair and any(n for name, n in found.items() if name not in _NOT_WRONG):
        raise typer.Exit(1)


_NOT_WRONG = ("indexed", "clusters", "repaired", "stale_signatures")  # sizes and work done; all else counts faults


def main() -> None:
    app()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
    db: DbOption = None,
) -> None:
    """Run the HTTP service (SQLite and an in-process index unless the settings name PostgreSQL / Redis).

    Every setting (environment, `.env`, global options such as --ngram, --db) reaches every worker."""
    settings = _settings(db)
    if workers == 1:
        import uvicorn

        from app.main import create_app

        uvicorn.run(create_app(settings), host=host, port=port, workers=1)
        return
    _refuse_private_indexes(settings, workers)
    _create_sqlite_schema(settings)
    _export_settings(_share_metrics(settings))
    _exec_supervisor(host, port, workers)


def _create_sqlite_schema(settings: Settings) -> None:
    """A new SQLite file gets its tables here, once: workers starting together each ran `create_all`, and all but
    one met "table articles already exists" and retried (PostgreSQL workers migrate under a lock instead)."""
    if settings.database_url.startswith("postgresql"):
        return
    from dedup.store import open_store

    try:
        open_store(settings.database_url, busy_timeout=settings.db_busy_timeout).close()
    except Exception as exc:  # noqa: BLE001 - a bad path must not print a traceback
        _fail(f"cannot open the store at {settings.database_url}: {exc}")


def _export_settings(settings: Settings) -> None:
    """Write every setting into this process's environment as DEDUP_* variables, which the worker processes
    inherit: each builds its Settings from the environment, so an option given only on the command line
    (`dedup --ngram 4 serve`) would otherwise be lost on the way."""
    for name, value in settings.model_dump(mode="json").items():
        key = f"DEDUP_{name.upper()}"
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = json.dumps(value) if isinstance(value, bool | list | dict) else str(value)


def _exec_supervisor(host: str, port: int, workers: int) -> None:
    """Become `python -m uvicorn ... --workers N`. uvicorn starts its workers with multiprocessing's "spawn",
    which first re-runs the parent's main script in each worker: here the `dedup` script, which runs the whole
    command line again (a script without a `__main__` guard starts a supervisor inside every worker) or at
    least imports it, before the worker can answer the supervisor's health ping. A worker that does not answer
    within uvicorn's 5 s is killed and replaced ("Child process [N] died"), for ever on a busy host. uvicorn's
    own main module is small and guarded, so the workers start at once."""
    import importlib.util

    spec = importlib.util.find_spec("app")
    if spec is None or not spec.submodule_search_locations:
        _fail("the web application (package `app`) is not installed", 2)
        return
    app_dir = str(Path(list(spec.submodule_search_locations)[0]).parent)
    argv = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", host,
            "--port", str(port), "--workers", str(workers), "--app-dir", app_dir]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def _refuse_private_indexes(settings: Settings, workers: int) -> None:
    """Several workers each with its own in-process index never see each other's articles: a repost that lands on
    another worker than its original is silently stored as a new story (76 of 200 in a measured run). Only an
    index shared through Redis makes several workers correct, so without one, refuse rather than start."""
    if settings.redis_url:
        return
    store = "PostgreSQL" if settings.database_url.startswith("postgresql") else "SQLite"
    _fail(f"--workers {workers} on {store} with an in-process index: each worker would keep its own index and miss "
          "the duplicates the others stored. Run one worker, or share the index through Redis (DEDUP_REDIS_URL).", 2)


def _share_metrics(settings: Settings) -> Settings:
    """Several workers: one folder for their metrics, emptied of an earlier run's counts, named in the environment
    the workers inherit (prometheus_client reads PROMETHEUS_MULTIPROC_DIR when it loads)."""
    import tempfile

    folder = Path(settings.metrics_dir or tempfile.mkdtemp(prefix="dedup-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return settings.model_copy(update={"metrics_dir": str(folder)})


# -- nightly re-clustering ----------------------------------------------------------------------
@app.command()
def recluster(
    full: Annotated[bool, typer.Option("--full", help="Re-cluster the whole corpus (the default)")] = False,
    since: Annotated[str | None, typer.Option("--since", help="Only around articles written since this date")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute and report, change nothing")] = False,
    engine_name: Annotated[str, typer.Option("--engine", help="local or spark")] = "local",
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-cluster from stored signatures with stable ids; re-sign articles stored under old settings."""
    from dedup.recluster.run import run_recluster

    if full and since:
        _fail("give --full or --since, not both", 2)
    if engine_name not in ("local", "spark"):
        _fail(f"unknown engine {engine_name!r}; use local or spark", 2)
    settings = _settings(db)
    engine = _engine(settings)
    try:
        report = run_recluster(engine, settings, full=since is None, since=since, dry_run=dry_run,
                               engine_name=engine_name)
    except DedupError as exc:
        _fail(str(exc))
        return
    finally:
        engine.close()
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    out.print(f"run {report.run_id} ({report.engine}, {report.mode}{', dry run' if dry_run else ''}): "
              f"{report.articles} articles, {report.resigned} re-signed, clusters {report.clusters_before} -> "
              f"{report.clusters_after}, {report.merges} merges, {report.splits} splits, {report.moves} moves, "
              f"{report.new_clusters} new, {report.late_articles} ingested during the run, {report.duration_s:.1f} s",
              highlight=False)


@app.command()
def runs(
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recorded re-cluster runs, newest first."""
    from dedup.recluster.run_log import list_runs

    engine = _engine(_settings(db))
    found = list_runs(engine.store, limit)
    engine.close()
    if as_json:
        out.print_json(json.dumps(found, ensure_ascii=False, default=str))
        return
    if not found:
        out.print("no re-cluster runs yet")
    for r in found:
        rep = r["report"] or {}
        if r["engine"] == "retention":
            out.print(f"run {r['id']} {r['status']} (retention, {r['mode']}{', dry run' if r['dry_run'] else ''}) "
                      f"started {r['started_at']}: {rep.get('deleted', '-')} of {rep.get('matched', '-')} articles "
                      f"before {rep.get('cutoff', '-')} deleted" + (f" error: {r['error']}" if r["error"] else ""),
                      highlight=False)
            continue
        out.print(f"run {r['id']} {r['status']} ({r['engine']}, {r['mode']}{', dry run' if r['dry_run'] else ''}) "
                  f"started {r['started_at']} finished {r['finished_at'] or '-'}: {rep.get('duration_s', '-')} s, "
                  f"{rep.get('articles', '-')} articles, clusters {rep.get('clusters_before', '-')} -> "
                  f"{rep.get('clusters_after', '-')}, {rep.get('merges', '-')} merges, {rep.get('splits', '-')} "
                  f"splits, {rep.get('moves', '-')} moves" + (f" error: {r['error']}" if r["error"] else ""),
                  highlight=False)


@app.command()
def boilerplate(
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Lines learned as boilerplate (removed before comparing), most recent first."""
    engine = _engine(_settings(db), rebuild=False)
    found = engine.learned_boilerplate(limit)
    engine.close()
    if as_json:
        out.print_json(json.dumps(found, ensure_ascii=False))
        return
    if not found:
        out.print("no boilerplate learned yet")
    for row in found:
        out.print(f"{row['learned_at']} {row['scope']} ({row['titles']} titles): {row['line'][:80]}", highlight=False)


@app.command()
def scheduler(
    db: DbOption = None,
    cron: Annotated[str | None, typer.Option("--cron", help="Cron expression (DEDUP_RECLUSTER_CRON)")] = None,
    once: Annotated[bool, typer.Option("--once", help="Wait for the next slot, run once, exit")] = False,
) -> None:
    """Run the re-cluster job on a cron schedule (default 03:00 every night) until stopped."""
    from dedup.ops.scheduler import serve

    settings = _settings(db, recluster_cron=cron)
    try:
        serve(settings, once=once)
    except ValueError as exc:
        _fail(str(exc))


# -- operator corrections, deletes, retention ---------------------------------------------------
def _article_id(engine: Engine, ref: str) -> int:
    """An article named by its id or its URL."""
    if ref.isascii() and ref.isdigit():
        return int(ref)
    return engine.get_article_by_url(ref).id


def _correction_line(c) -> str:  # type: ignore[no-untyped-def]
    state = "in force" if c.active else f"withdrawn {c.withdrawn_at} by {c.withdrawn_by}"
    note = f" — {c.note}" if c.note else ""
    return f"#{c.id} {c.describe()} ({c.url_a} / {c.url_b}), by {c.created_by} {c.created_at}, {state}{note}"


@app.command()
def correct(
    kind: Annotated[str, typer.Argument(help="must-link (the same story) or cannot-link (not the same story)")],
    article: Annotated[str, typer.Argument(help="An article: id or URL")],
    other: Annotated[str, typer.Argument(help="The other article (id or URL), or with --cluster a cluster id")],
    cluster: Annotated[bool, typer.Option("--cluster", help="OTHER is a cluster id")] = False,
    note: Annotated[str | None, typer.Option("--note", help="Why, for the record")] = None,
    db: DbOption = None,
) -> None:
    """Correct the clustering: applied at once, kept by every later ingest and re-cluster; recorded as by "cli"."""
    from dedup.clusters.corrections import add_correction

    kinds = {"must-link": "must_link", "cannot-link": "cannot_link"}
    if kind not in kinds:
        _fail(f"unknown kind {kind!r}; use must-link or cannot-link", 2)
    if cluster and not (other.isascii() and other.isdigit()):
        _fail(f"--cluster: expected a cluster id, got {other!r}", 2)
    engine = _engine(_settings(db))
    try:
        a = _article_id(engine, article)
        target = {"cluster_id": int(other)} if cluster else {"other_id": _article_id(engine, other)}
        outcome = add_correction(engine, kinds[kind], a, note=note, by="cli", **target)
    except DedupError as exc:
        _fail(str(exc))
        return
    finally:
        engine.close()
    verb = "recorded" if outcome.created else "already in force"
    out.print(f"{verb}: {_correction_line(outcome.correction)}; clusters now "
              f"{' and '.join(map(str, outcome.clusters))}", highlight=False)


@app.command()
def corrections(
    include_withdrawn: Annotated[bool, typer.Option("--all", help="Withdrawn corrections too")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Corrections, newest first: who made each, when, and why."""
    from dedup.clusters.corrections import list_corrections

    engine = _engine(_settings(db))
    found = list_corrections(engine, include_withdrawn=include_withdrawn, limit=limit)
    engine.close()
    if as_json:
        out.print_json(json.dumps([c.as_dict() for c in found], ensure_ascii=False))
        return
    if not found:
        out.print("no corrections")
    for c in found:
        out.print(_correction_line(c), highlight=False)


@app.command()
def withdraw(correction_id: Annotated[int, typer.Argument(help="The correction's id (see `dedup corrections`)")],
             db: DbOption = None) -> None:
    """Withdraw a correction; clusters stay as they are until later ingests and the next re-cluster."""
    from dedup.clusters.corrections import withdraw_correction

    engine = _engine(_settings(db))
    try:
        found = withdraw_correction(engine, correction_id, by="cli")
    except DedupError as exc:
        _fail(str(exc))
        return
    finally:
        engine.close()
    out.print(_correction_line(found), highlight=False)


@app.command()
def delete(
    url: Annotated[list[str] | None, typer.Option("--url", help="Delete the article of this URL (repeatable)")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Every article of this source")] = None,
    published_from: Annotated[str | None, typer.Option("--published-from", help="Published on or after")] = None,
    published_until: Annotated[str | None, typer.Option("--published-until", help="Published on or before")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing")] = False,
    db: DbOption = None,
) -> None:
    """Delete articles by URL, or in bulk by source and/or publication dates (inclusive ISO dates), with the
    upkeep of a single delete (index, clusters, corrections)."""
    from dedup.ops.retention import delete_matching

    if url and (source or published_from or published_until):
        _fail("give --url, or --source/--published-from/--published-until, not both", 2)
    engine = _engine(_settings(db))
    try:
        if url:
            if dry_run:
                ids = [engine.get_article_by_url(u).id for u in url]
                out.print(f"would delete {len(ids)} articles", highlight=False)
                return
            for u in url:
                out.print(f"deleted article {engine.delete_article_by_url(u)} ({u})", highlight=False)
            return
        report = delete_matching(engine, source=source, published_from=published_from,
                                 published_until=published_until, dry_run=dry_run)
    except DedupError as exc:
        _fail(str(exc))
        return
    finally:
        engine.close()
    out.print(f"{report.matched} matched, {report.deleted} deleted{' (dry run)' if dry_run else ''}",
              highlight=False)


@app.command()
def retention(
    days: Annotated[int | None, typer.Option("--days", min=1, help="Override DEDUP_RETENTION_DAYS")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing")] = False,
    db: DbOption = None,
) -> None:
    """Apply the retention policy now (the scheduler does it before each re-cluster): delete articles published,
    else ingested, more than DEDUP_RETENTION_DAYS days ago; recorded as a run (see `dedup runs`)."""
    from dedup.ops.retention import apply_retention

    settings = _settings(db)
    days = days or settings.retention_days
    if not days:
        _fail("no retention policy: set DEDUP_RETENTION_DAYS or give --days", 2)
        return
    engine = _engine(settings)
    try:
        report = apply_retention(engine, days, dry_run=dry_run)
    except DedupError as exc:
        _fail(str(exc))
        return
    finally:
        engine.close()
    out.print(f"run {report['run_id']}: {report['matched']} articles published (else ingested) before "
              f"{report['cutoff']}, {report['deleted']} deleted{' (dry run)' if dry_run else ''}", highlight=False)
from dedup.cli import ops as cli_ops  # noqa: E402,F401 - registers watch, alerts, export and config on `app`
