"""Engine errors that callers (CLI, HTTP) turn into messages and status codes."""


class DedupError(Exception):
    """Base class; `code` is a stable machine-readable identifier."""

    code = "error"


class InvalidArticle(DedupError):
    code = "invalid_article"


class EmptyText(InvalidArticle):
    code = "empty_text"


class NotFound(DedupError):
    code = "not_found"


class Unavailable(DedupError):
    code = "unavailable"


class RevisionMismatch(DedupError):
    """A write conditioned on the article's revision (If-Match) found another one: someone else wrote in between."""

    code = "revision_mismatch"


class InvalidWatch(DedupError):
    """A watch that cannot be kept: an unknown kind, a bad value, or a target that is not a public http(s) URL."""

    code = "invalid_watch"
