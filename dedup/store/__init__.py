"""Persistence behind small interfaces, one per caller (dedup/store/base.py); `open_store` picks the backend
from a URL."""

from dedup.store import watches as _watches  # noqa: F401 - registers the alert tables in the shared metadata
from dedup.store.base import IngestStore, ReclusterStore, RunLogStore
from dedup.store.sql import SqlStore, is_lock_timeout, open_store

__all__ = ["IngestStore", "ReclusterStore", "RunLogStore", "SqlStore", "is_lock_timeout", "open_store"]
