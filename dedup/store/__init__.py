"""Persistence behind one small interface; `open_store` picks the backend from a URL."""

from .base import Store
from .sql import SqlStore, open_store

__all__ = ["SqlStore", "Store", "open_store"]
