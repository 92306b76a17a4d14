"""Engine errors that callers (CLI, HTTP) turn into messages and status codes."""


class DedupError(Exception):
    """Base class; `code` is a stable machine-readable identifier."""

    code = "error"


class InvalidArticle(DedupError):
    code = "invalid_article"


class EmptyText(InvalidArticle):
    code = "empty_text"


class TextTooLarge(DedupError):
    """A text over the size the engine normalizes: the work budget of one request (HTTP 413)."""

    code = "payload_too_large"


class NotFound(DedupError):
    code = "not_found"


class Unavailable(DedupError):
    code = "unavailable"


class RevisionMismatch(DedupError):
    """A write conditioned on the article's revision (If-Match) found another one: someone else wrote in between."""

    code = "revision_mismatch"
