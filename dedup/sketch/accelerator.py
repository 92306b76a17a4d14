"""Whether the compiled accelerator (dedup/sketch/_native.c) is in use, and for which steps.

Without a C compiler at install time the package still works on its numpy/regex paths, several times slower;
`dedup --version` and `/healthz` say which, so a slow install is seen rather than guessed. Each step's module
loads `_native` the same way (import, else the fallback), so what imports here is what they use.
"""

from __future__ import annotations

# The compiled functions, by the step of the pipeline each one speeds up.
PARTS = {
    "drop_punctuation": "normalize",
    "fold_text": "normalize",  # width, case, script and punctuation in one pass (dedup.text.compiled_fold decides per
    # text)
    "sign": "shingle+signature",  # normalized text to shingles and MinHash in one call
    "shingles": "shingle",
    "minhash": "signature",
    "band_insert": "index",
    "band_query": "index",
    "posting_hits": "containment",
    "screen": "screening",
}


def native_parts() -> list[str]:
    """Names of the compiled functions available ([] when the C module is not built)."""
    from dedup.sketch.native import _native

    if _native is None:
        return []
    return [name for name in PARTS if hasattr(_native, name)]


def accelerator_status() -> dict[str, object]:
    """{"compiled": bool, "parts": [...]}: for /healthz and `dedup --version`."""
    parts = native_parts()
    return {"compiled": bool(parts), "parts": parts}


def describe() -> str:
    """One line for people."""
    parts = native_parts()
    if not parts:
        return "compiled accelerator: not built (numpy and regex paths; `python setup.py build_ext --inplace`)"
    return f"compiled accelerator: in use ({', '.join(parts)})"
