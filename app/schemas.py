"""Request and response bodies. Validation of shapes and types lives here; rules about content in `dedup.validate`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

# Exactly one of `text` and `html`, as a string (the other absent or null). The engine (ArticleIn) and the
# search route enforce it with a 422; this states it in the schema, which field types alone cannot.
# The `responses=` of a route: status code -> OpenAPI response (model, description).
Responses = dict[int | str, dict[str, Any]]

TEXT_OR_HTML: list[JsonValue] = [{"required": ["text"], "properties": {"text": {"type": "string"}}},
                {"required": ["html"], "properties": {"html": {"type": "string"}}}]


class ArticleBody(BaseModel):
    """One article to ingest: give `text` or `html`. Fields not listed here (a crawler's `label`, `lang`, ...)
    are ignored, as `dedup ingest` ignores them in JSONL; a listed field of the wrong type is an error."""

    # Ignored, not refused: exports from crawlers and labeled sets carry extra fields, and refusing them made
    # every item of a batch fail while the same file ingested fine with the CLI.
    model_config = ConfigDict(extra="ignore", json_schema_extra={
        "oneOf": TEXT_OR_HTML,
        "examples": [{"url": "https://news.example/a/1", "title": "标题", "text": "正文……",
                      "published_at": "2024-05-27", "source": "新华社"}]})

    url: str = Field(..., description="Absolute http(s) URL; the article's identity")
    title: str | None = None
    text: str | None = Field(None, description="Plain text (or give html)")
    html: str | None = Field(None, description="An HTML page; markup and boilerplate are stripped")
    published_at: str | None = Field(None, description="ISO 8601 date or date-time")
    source: str | None = None


class BatchBody(BaseModel):
    """Items are validated one by one, so one malformed item does not reject the whole batch."""

    model_config = ConfigDict(extra="forbid")

    articles: list[Any] = Field(..., description="Up to DEDUP_MAX_BATCH article objects")


class SearchBody(BaseModel):
    """A text or an HTML page to look up: give exactly one."""

    # Strict: a threshold sent as the string "0.5" is refused, as its schema type (number) says.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"oneOf": TEXT_OR_HTML})

    text: str | None = None
    html: str | None = None
    threshold: float | None = Field(None, gt=0.0, le=1.0,
                                    description="Keep only verified matches whose exact Jaccard reaches this")


class MatchOut(BaseModel):
    id: int
    url: str
    jaccard: float
    containment: float
    cluster_id: int | None = None
    reason: str = ""


class IngestOut(BaseModel):
    id: int
    url: str
    cluster_id: int
    is_duplicate: bool
    duplicate_of: str | None
    duplicate_of_id: int | None
    status: str = Field(..., description="created | unchanged | updated (new text) | metadata_updated (same "
                                         "text, new title, source or published_at)")
    matches: list[MatchOut]
    revision: str = Field(..., description="The stored article's revision (also the ETag header): send it as "
                                           "If-Match to update or delete only what you read")
    judged: MatchOut | None = Field(None, description="The stored article this one was judged a duplicate of "
                                    "(`duplicate_of`: the representative of the cluster it joined), with that "
                                    "pair's scores; null for an article that founded its own cluster")


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[str] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


class BatchItemOut(BaseModel):
    index: int
    status: int = Field(..., description="The HTTP status this item alone would have had")
    result: IngestOut | None = None
    error: ErrorBody | None = None


class BatchOut(BaseModel):
    results: list[BatchItemOut]


class ArticleOut(BaseModel):
    id: int
    url: str
    title: str | None
    source: str | None
    published_at: str | None
    ingested_at: str
    cluster_id: int | None
    content_hash: str
    text: str = Field(..., description="The text as submitted (HTML if html was given)")
    normalized_text: str
    revision: str = Field(..., description="Changes with every write of the article (also the ETag header)")


class DuplicatesOut(BaseModel):
    id: int
    url: str
    matches: list[MatchOut]


class SearchOut(BaseModel):
    matches: list[MatchOut]


class ArticleRef(BaseModel):
    id: int
    url: str
    title: str | None = None


class ClusterSummary(BaseModel):
    id: int
    size: int
    representative: ArticleRef | None
    first_seen: str
    last_seen: str


class ClusterPage(BaseModel):
    clusters: list[ClusterSummary]
    next_cursor: str | None


class MemberOut(BaseModel):
    id: int
    url: str
    title: str | None
    published_at: str | None
    ingested_at: str
    is_representative: bool
    jaccard: float
    containment: float
    is_duplicate: bool
    reason: str


class ClusterDetail(ClusterSummary):
    keywords: list[str]
    members: list[MemberOut]
    resolved_from: int | None = Field(None, description="The id asked for, when it was merged into this cluster")


class PassageOut(BaseModel):
    kind: str
    a: str
    b: str
    a_start: int
    b_start: int


class ExplainOut(BaseModel):
    a: ArticleRef
    b: ArticleRef
    decision: str = Field(..., description="duplicate | distinct")
    is_duplicate: bool
    reason: str
    jaccard: float
    containment: float
    shared_shingles: int
    shingles_a: int
    shingles_b: int
    conflicts: list[dict[str, str]]
    shared: list[PassageOut]
    differing: list[PassageOut]
