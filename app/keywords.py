"""Cluster keywords with jieba's TF-IDF extractor over the representative's normalized text."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_MAX_CHARS = 20_000


def keywords(text: str, top: int = 10) -> list[str]:
    """jieba.analyse keeps shared state and loads its IDF table lazily; one caller at a time is enough here."""
    import jieba.analyse

    with _lock:
        return list(jieba.analyse.extract_tags(text[:_MAX_CHARS], topK=top))
