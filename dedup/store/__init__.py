"""Persistence behind one small interface; `open_store` picks the backend from a URL."""

from dedup.store import watches as _watches  # noqa: F401 - registers the alert tables in the shared metadata
from dedup.store.base import Store
from dedup.store.sql import SqlStore, is_lock_timeout, open_store

__all__ = ["SqlStore", "Store", "is_lock_timeout", "open_store"]
