"""The optional C accelerator (dedup/sketch/_native.c, built by setup.py), loaded in one place.

Every caller keeps a numpy/regex path that gives the same answers; `_native` is None when the module was
built without a compiler, and those paths run."""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

_native: ModuleType | None
try:
    _native = import_module("dedup.sketch._native")
except ImportError:  # pragma: no cover - depends on the build
    _native = None


def in_use() -> bool:
    """Whether the C accelerator is loaded (reported by `dedup --version` and /healthz)."""
    return _native is not None
