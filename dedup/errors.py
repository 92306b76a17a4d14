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
