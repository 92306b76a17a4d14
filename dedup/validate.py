"""Input checks with messages that say what to fix. Run before anything is written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlparse

from .errors import EmptyText, InvalidArticle
from .models import ArticleIn

_SCHEMES = ("http", "https", "file")
_MAX_URL = 2048
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y年%m月%d日")


@dataclass(frozen=True)
class Fields:
    url: str
    raw: str
    is_html: bool | None
    title: str | None
    source: str | None
    published_at: str | None


def url(value: str | None) -> str:
    if not value or not value.strip():
        raise InvalidArticle("url is required")
    value = value.strip()
    if len(value) > _MAX_URL:
        raise InvalidArticle(f"url is longer than {_MAX_URL} characters")
    try:
        parsed = urlparse(value)
    except ValueError as exc:  # e.g. a host with characters that NFKC-fold into `:` or `/` (full-width colon)
        raise InvalidArticle(f"url is not a valid URL: {exc}"[:300]) from exc
    if parsed.scheme.lower() not in _SCHEMES or not (parsed.netloc or parsed.scheme == "file"):
        raise InvalidArticle(f"url must be an absolute http(s) or file URL, got {value[:100]!r}")
    if _CONTROL.search(value) or " " in value:
        raise InvalidArticle("url contains spaces or control characters")
    return value


def raw_text(value: str | None) -> str:
    if value is None or not value.strip():
        raise EmptyText("text is empty")
    return value.replace("\x00", "")


def published_at(value: str | None) -> str | None:
    """ISO 8601 (date or date-time, UTC when a zone is given); None stays None."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise InvalidArticle(f"published_at {text[:40]!r} is not a date (use ISO 8601, e.g. 2024-05-27)")
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # 9999-12-31T23:00-05:00 is after the last representable instant in UTC
            raise InvalidArticle(f"published_at {text[:40]!r} is out of range in UTC") from None
    if len(text) <= 10 and parsed.hour == parsed.minute == parsed.second == 0:
        return parsed.date().isoformat()
    return parsed.isoformat()


def _optional(value: str | None, name: str, limit: int = 1000) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArticle(f"{name} must be a string")
    value = value.replace("\x00", "").strip()
    if len(value) > limit:
        raise InvalidArticle(f"{name} is longer than {limit} characters")
    return value or None


def article_fields(item: ArticleIn) -> Fields:
    if item.text is not None and item.html is not None:
        raise InvalidArticle("give either text or html, not both")
    if item.text is None and item.html is None:
        raise InvalidArticle("text or html is required")
    raw = raw_text(item.text if item.text is not None else item.html)
    return Fields(
        url=url(item.url), raw=raw, is_html=True if item.html is not None else None,
        title=_optional(item.title, "title"), source=_optional(item.source, "source"),
        published_at=published_at(item.published_at),
    )
