"""Near-duplicate detection and clustering of news articles.

What a library user needs is importable from here::

    from dedup import ArticleIn, Engine, Settings

    engine = Engine(Settings(database_url="articles.db"))
    result = engine.ingest(ArticleIn(url="https://example.com/a", text="..."))
    print(result.cluster_id, result.is_duplicate, [m.url for m in result.matches])

Names are loaded on first use (module `__getattr__`), so `import dedup` and the `dedup` command's start-up do
not pay for numpy, SQLAlchemy or jieba until an engine is built.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Engine": "dedup.engine",
    "Settings": "dedup.settings",
    # records in and out
    "ArticleIn": "dedup.models",
    "Article": "dedup.models",
    "Cluster": "dedup.models",
    "Match": "dedup.models",
    "IngestResult": "dedup.models",
    "Explanation": "dedup.decide.explain",
    "Verdict": "dedup.decide.verify",
    # frozen parameters (what `Settings.normalization()`, `.signature()` and `.decision()` build)
    "NormalizationConfig": "dedup.config",
    "SignatureConfig": "dedup.config",
    "DecisionConfig": "dedup.config",
    # errors: every engine error is a DedupError
    "DedupError": "dedup.errors",
    "InvalidArticle": "dedup.errors",
    "EmptyText": "dedup.errors",
    "BoilerplateOnly": "dedup.errors",
    "TextTooLarge": "dedup.errors",
    "NotFound": "dedup.errors",
    "Unavailable": "dedup.errors",
    "RevisionMismatch": "dedup.errors",
    "InvalidWatch": "dedup.errors",
}

__all__ = [
    "Article",
    "ArticleIn",
    "BoilerplateOnly",
    "Cluster",
    "DecisionConfig",
    "DedupError",
    "EmptyText",
    "Engine",
    "Explanation",
    "IngestResult",
    "InvalidArticle",
    "InvalidWatch",
    "Match",
    "NormalizationConfig",
    "NotFound",
    "RevisionMismatch",
    "Settings",
    "SignatureConfig",
    "TextTooLarge",
    "Unavailable",
    "Verdict",
]

if TYPE_CHECKING:
    from dedup.config import DecisionConfig, NormalizationConfig, SignatureConfig
    from dedup.decide.explain import Explanation
    from dedup.decide.verify import Verdict
    from dedup.engine import Engine
    from dedup.errors import (
        BoilerplateOnly,
        DedupError,
        EmptyText,
        InvalidArticle,
        InvalidWatch,
        NotFound,
        RevisionMismatch,
        TextTooLarge,
        Unavailable,
    )
    from dedup.models import Article, ArticleIn, Cluster, IngestResult, Match
    from dedup.settings import Settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dedup' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
