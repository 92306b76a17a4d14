"""Engine errors that callers (CLI, HTTP) turn into messages and status codes."""


class DedupError(Exception):
    """Base class; `code` is a stable machine-readable identifier."""

    code = "error"


class InvalidArticle(DedupError):
    code = "invalid_article"


class EmptyText(InvalidArticle):
    code = "empty_text"


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
