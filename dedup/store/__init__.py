"""Persistence behind one small interface; `open_store` picks the backend from a URL."""

from . import watches as _watches  # noqa: F401 - registers the alert tables in the shared metadata
from .base import Store
from .sql import SqlStore, is_lock_timeout, open_store

__all__ = ["SqlStore", "Store", "is_lock_timeout", "open_store"]
