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


class BoilerplateOnly(EmptyText):
    """Nothing is left once page script/style and lines learned as the stream's boilerplate are removed:
    comparing such a body would merge unrelated pages that share a footer or a page template."""

    code = "boilerplate_only"


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
