"""Articles from files on disk: .txt/.html/.md files, folders of them, JSONL, JSON arrays and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dedup.errors import InvalidArticle
from dedup.models import ArticleIn
from dedup.text.extract import split_front_matter

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
JSON_SUFFIXES = {".json"}
CSV_SUFFIXES = {".csv"}
KNOWN_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES | JSON_SUFFIXES | CSV_SUFFIXES
# A first line this short that does not end a sentence reads as a headline (a caption or an opening sentence ends
# with 。/./!/?, and those stay body text only).
_TITLE_MAX = 80
_SENTENCE_END = tuple("。！？.!?…")


@dataclass
class SourceItem:
    origin: str  # "path" or "path:line"
    article: ArticleIn | None
    error: str | None = None


def _unreadable(path: Path, exc: OSError) -> InvalidArticle:
    return InvalidArticle(f"cannot read {path}: {exc.strerror or exc}")


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArticle(f"{path} is not valid UTF-8 (byte {exc.start})") from exc


def article_from_json(obj: object) -> ArticleIn:
    if not isinstance(obj, dict):
        raise InvalidArticle("each line must be a JSON object")
    for name in ("url", "title", "text", "html", "published_at", "source"):
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidArticle(f"field {name!r} must be a string")
    if not obj.get("url"):
        raise InvalidArticle("missing url")
    return ArticleIn(url=obj["url"], text=obj.get("text"), html=obj.get("html"), title=obj.get("title"),
                     published_at=obj.get("published_at"), source=obj.get("source"))


def read_jsonl(path: Path) -> Iterator[SourceItem]:
    """Line by line, as they are read: a file of a million articles is never held whole (its text and the parsed
    records would be gigabytes, and every parsed record would be walked by each full garbage collection)."""
    try:
        lines = _lines(path)
        for number, raw in enumerate(lines, start=1):
            origin = f"{path}:{number}"
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield SourceItem(origin, None, f"line {number} is not valid UTF-8 (byte {exc.start})")
                continue
            if line.strip():
                yield _jsonl_item(origin, number, line)
    except InvalidArticle as exc:
        yield SourceItem(str(path), None, str(exc))


def _lines(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as lines:
            yield from lines
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _jsonl_item(origin: str, number: int, line: str) -> SourceItem:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return SourceItem(origin, None, f"invalid JSON on line {number}: {exc.msg}")
    try:
        return SourceItem(origin, article_from_json(obj))
    except InvalidArticle as exc:
        return SourceItem(origin, None, f"line {number}: {exc}")


def _records(path: Path, rows: Iterator[tuple[str, object]]) -> Iterator[SourceItem]:
    for origin, obj in rows:
        try:
            yield SourceItem(f"{path}:{origin}", article_from_json(obj))
        except InvalidArticle as exc:
            yield SourceItem(str(path), None, f"{origin}: {exc}")


def read_json_array(path: Path, text: str) -> Iterator[SourceItem]:
    """A JSON array of article objects (or one object): what APIs and exports hand out."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield SourceItem(str(path), None, f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}")
        return
    items = data if isinstance(data, list) else [data]
    yield from _records(path, ((f"item {i}", obj) for i, obj in enumerate(items, start=1)))


def read_csv(path: Path, text: str) -> Iterator[SourceItem]:
    """CSV with a header row naming url and text (or html); other columns are kept as extra fields, empty cells
    count as absent."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = set(reader.fieldnames or [])
    if "url" not in header or not header & {"text", "html"}:
        yield SourceItem(str(path), None, f"{path}: the CSV header must name a url column and a text or html column "
                                          f"(found: {', '.join(sorted(header)) or 'no header'})")
        return
    rows = ((f"row {reader.line_num}", {k: v for k, v in row.items() if k is not None and v not in ("", None)})
            for row in reader)
    try:
        yield from _records(path, rows)
    except csv.Error as exc:
        yield SourceItem(str(path), None, f"{path}: malformed CSV near line {reader.line_num}: {exc}")


def title_of_text(text: str) -> str | None:
    """The front matter's title, else the first line of a plain-text file when it reads as a headline (a front
    matter's `---` fence is markup, never a headline)."""
    fields, body = split_front_matter(text)
    if fields:
        return fields.get("title") or None
    for line in body.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= _TITLE_MAX and not line.endswith(_SENTENCE_END) else None
    return None


def read_file(path: Path) -> Iterator[SourceItem]:
    suffix = path.suffix.lower()
    if suffix not in KNOWN_SUFFIXES:
        kinds = ", ".join(sorted(KNOWN_SUFFIXES))
        yield SourceItem(str(path), None, f"{path}: unsupported file type {suffix or '(none)'}; use one of {kinds}")
        return
    if suffix in JSONL_SUFFIXES:
        yield from read_jsonl(path)
        return
    try:
        text = _read_text(path)
    except InvalidArticle as exc:
        yield SourceItem(str(path), None, str(exc))
        return
    url = path.resolve().as_uri()
    if suffix in JSON_SUFFIXES:
        yield from read_json_array(path, text)
    elif suffix in CSV_SUFFIXES:
        yield from read_csv(path, text)
    elif suffix in HTML_SUFFIXES:
        yield SourceItem(str(path), ArticleIn(url=url, html=text, local_file=True))
    else:
        yield SourceItem(str(path), ArticleIn(url=url, text=text, title=title_of_text(text), local_file=True))


def iter_sources(paths: list[Path]) -> Iterator[SourceItem]:
    """Every article under the given paths, in a stable order; problems come back as items with an error."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            usable = [p for p in files if p.suffix.lower() in KNOWN_SUFFIXES]
            if not usable:
                yield SourceItem(str(path), None, f"{path} holds no .txt, .md, .html, .jsonl, .json or .csv files")
            for file in usable:
                yield from read_file(file)
        elif path.is_file():
            yield from read_file(path)
        else:
            yield SourceItem(str(path), None, f"{path} does not exist")
