"""Articles from files on disk: .txt/.html/.md files, folders of them, and JSONL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidArticle
from .models import ArticleIn

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}


@dataclass
class SourceItem:
    origin: str  # "path" or "path:line"
    article: ArticleIn | None
    error: str | None = None
    extra: dict | None = None


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidArticle(f"cannot read {path}: {exc.strerror or exc}") from exc
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
    text = _read_text(path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        origin = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield SourceItem(origin, None, f"invalid JSON on line {number}: {exc.msg}")
            continue
        try:
            yield SourceItem(origin, article_from_json(obj), extra=obj)
        except InvalidArticle as exc:
            yield SourceItem(origin, None, f"line {number}: {exc}")


def read_file(path: Path) -> Iterator[SourceItem]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        yield from read_jsonl(path)
        return
    try:
        text = _read_text(path)
    except InvalidArticle as exc:
        yield SourceItem(str(path), None, str(exc))
        return
    url = path.resolve().as_uri()
    if suffix in HTML_SUFFIXES:
        yield SourceItem(str(path), ArticleIn(url=url, html=text, local_file=True))
    else:
        yield SourceItem(str(path), ArticleIn(url=url, text=text, local_file=True))


def iter_sources(paths: list[Path]) -> Iterator[SourceItem]:
    """Every article under the given paths, in a stable order; problems come back as items with an error."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            usable = [p for p in files if p.suffix.lower() in TEXT_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES]
            if not usable:
                yield SourceItem(str(path), None, f"{path} holds no .txt, .md, .html or .jsonl files")
            for file in usable:
                yield from read_file(file)
        elif path.is_file():
            yield from read_file(path)
        else:
            yield SourceItem(str(path), None, f"{path} does not exist")
