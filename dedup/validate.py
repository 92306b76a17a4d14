"""Input checks with messages that say what to fix. Run before anything is written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlparse

from dedup.errors import EmptyText, InvalidArticle
from dedup.models import ArticleIn

_WEB_SCHEMES = ("http", "https")
_MAX_URL = 2048
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Half of a UTF-16 pair on its own (JSON allows the escape `\ud800`): no encoding can store it, so one such
# character would fail the whole transaction at the database. It is refused here, for its item alone.
# Most article URLs: http(s), a plain host name (letters, digits, dots, hyphens), an optional port, printable ASCII
# after it. Such a URL passes every check below (no user, no spaces or controls, no surrogates), so it is taken
# as it is without parsing it (urlparse and its host and user properties cost ~10 us an article).
_PLAIN_WEB_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]*)?(?:[/?#][!-~]*)?", re.ASCII | re.IGNORECASE)
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y年%m月%d日")


@dataclass(frozen=True)
class Fields:
    url: str
    raw: str
    is_html: bool | None
    title: str | None
    source: str | None
    published_at: str | None


def url(value: str | None, *, local_file: bool = False) -> str:
    """An absolute http(s) URL without user name or password: the article's identity, shown as a link.

    `local_file` admits the `file://` URL the CLI gives a file it read from disk (its own naming, not input).
    """
    if not value or not value.strip():
        raise InvalidArticle("url is required")
    value = value.strip()
    if len(value) > _MAX_URL:
        raise InvalidArticle(f"url is longer than {_MAX_URL} characters")
    if _PLAIN_WEB_URL.fullmatch(value):
        return value
    return _parsed_url(value, local_file)


def _parsed_url(value: str, local_file: bool) -> str:
    no_surrogates(value, "url")
    try:
        parsed = urlparse(value)
        scheme, host, user, password = parsed.scheme.lower(), parsed.hostname, parsed.username, parsed.password
    except ValueError as exc:  # e.g. a host with characters that NFKC-fold into `:` or `/` (full-width colon)
        raise InvalidArticle(f"url is not a valid URL: {exc}"[:300]) from exc
    if local_file and scheme == "file":
        return _plain(value)
    if scheme not in _WEB_SCHEMES or not host:
        raise InvalidArticle(f"url must be an absolute http(s) URL with a host, got {value[:100]!r}")
    if user is not None or password is not None or "@" in parsed.netloc:
        # The value is not echoed: it holds a password.
        raise InvalidArticle("url must not contain a user name or password (user:password@host); "
                             "give the public URL of the article")
    return _plain(value)


def _plain(value: str) -> str:
    if _CONTROL.search(value) or " " in value:
        raise InvalidArticle("url contains spaces or control characters")
    return value


def no_surrogates(value: str, name: str) -> None:
    """Refuse a lone surrogate with where it is: it cannot be stored, and it is the caller's to fix."""
    try:
        value.encode("utf-8")  # only a surrogate fails it; twice as fast as a regex search of the text
    except UnicodeEncodeError as exc:
        raise InvalidArticle(f"{name} contains a lone surrogate (U+{ord(value[exc.start]):04X} at character "
                             f"{exc.start}); send valid Unicode") from None


def raw_text(value: str | None, name: str = "text") -> str:
    if value is None or not value.strip():
        raise EmptyText(f"{name} is empty")
    no_surrogates(value, name)
    return value.replace("\x00", "")


def published_at(value: str | None) -> str | None:
    """ISO 8601 (date or date-time, UTC when a zone is given); None stays None."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    no_surrogates(text, "published_at")
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


def time_bound(value: str | None, name: str, *, end: bool) -> str | None:
    """An ISO date or date-time as stored times (`published_at`, cluster first/last seen) compare: UTC, no zone.
    `end`: an inclusive upper bound, made exclusive (a plain date means the whole day)."""
    if value is None:
        return None
    try:
        text = published_at(value)
    except InvalidArticle:
        raise InvalidArticle(f"{name}: expected an ISO date like 2024-05-27, got {str(value)[:40]!r}") from None
    if text is None or not end:
        return text
    try:
        if len(text) == 10:
            return (date.fromisoformat(text) + timedelta(days=1)).isoformat()
        return (datetime.fromisoformat(text) + timedelta(microseconds=1)).isoformat()
    except OverflowError:  # the last representable day bounds nothing
        return None


def _optional(value: str | None, name: str, limit: int = 1000) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArticle(f"{name} must be a string")
    value = value.replace("\x00", "").strip()
    no_surrogates(value, name)
    if len(value) > limit:
        raise InvalidArticle(f"{name} is longer than {limit} characters")
    return value or None


def optional_text(value: str | None, name: str, limit: int = 1000) -> str | None:
    """A short optional field (a source to match, a correction's note) read as ingest reads a title or source:
    NUL dropped (PostgreSQL refuses it in text, so both stores must see the same value), trimmed, empty is None."""
    return _optional(value, name, limit)


def article_fields(item: ArticleIn) -> Fields:
    if item.text is not None and item.html is not None:
        raise InvalidArticle("give either text or html, not both")
    if item.text is None and item.html is None:
        raise InvalidArticle("text or html is required")
    raw = raw_text(item.text, "text") if item.text is not None else raw_text(item.html, "html")
    return Fields(
        url=url(item.url, local_file=item.local_file), raw=raw, is_html=True if item.html is not None else None,
        title=_optional(item.title, "title"), source=_optional(item.source, "source"),
        published_at=published_at(item.published_at),
    )
