"""Frozen parameter objects whose string forms version every stored signature.

A stored signature is only comparable with one made under the same normalization
and MinHash parameters; `str()` of these objects is stored beside each signature
so a change of any field is detected and old articles can be re-signed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# Bump when a rule inside a normalization step changes without a field changing.
NORMALIZATION_RULES = 3  # 2: decimal points and separators between numbers kept; 3: a link stops at its
# last URL character (it ate the rest of a CJK paragraph)
SCHEMES = ("affine32",)


def _describe(obj: object, prefix: str) -> str:
    parts = []
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        parts.append(f"{f.name}={int(value) if isinstance(value, bool) else value}")
    return f"{prefix}(" + ",".join(parts) + ")"


@dataclass(frozen=True)
class NormalizationConfig:
    """Which normalization steps run. All on is what reposts need; switches exist for experiments."""

    extract_markup: bool = True
    drop_code: bool = True
    drop_boilerplate: bool = True
    fold_width: bool = True
    to_simplified: bool = True
    strip_pinyin: bool = True
    lowercase: bool = True
    drop_punctuation: bool = True
    rules: int = NORMALIZATION_RULES

    def __str__(self) -> str:
        return _describe(self, "norm")


@dataclass(frozen=True)
class SignatureConfig:
    """Shingling and MinHash parameters; with the normalization they define comparable signatures."""

    ngram: int = 5
    word_ngram: int = 3
    num_perm: int = 128
    seed: int = 1
    scheme: str = "affine32"
    # Bump when the unit or n-gram hashing changes without a field changing.
    shingle_rules: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.ngram <= 16:
            raise ValueError(f"ngram must be between 1 and 16 characters, got {self.ngram}")
        if not 1 <= self.word_ngram <= 8:
            raise ValueError(f"word_ngram must be between 1 and 8 words, got {self.word_ngram}")
        if not 16 <= self.num_perm <= 1024:
            raise ValueError(f"num_perm must be between 16 and 1024, got {self.num_perm}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")

    def __str__(self) -> str:
        return _describe(self, "minhash")


@dataclass(frozen=True)
class DecisionConfig:
    """Thresholds of the duplicate decision over exact shingle-set scores.

    These defaults are the only ones: `Settings` takes its own from here, and the quality figures in
    docs/quality.md were measured with them (`dedup serve` and `dedup eval` run with them unless told otherwise)."""

    jaccard: float = 0.5
    containment: float = 0.75
    min_shared_shingles: int = 8
    # Jaccard at which the LSH bands propose a candidate, and the denser bands kept for texts of at most
    # `short_text_shingles` (0: none), whose containment anchors are too few (dedup.candidates.layouts). A short
    # threshold not below the main one adds nothing (a store configured with a low main threshold keeps working).
    lsh_threshold: float = 0.3
    short_lsh_threshold: float = 0.2
    short_text_shingles: int = 80
    # An article that copies a member of a cluster (Jaccard at or above `jaccard`), but is no duplicate of its
    # representative (a copy of a longer later version of a short first one), joins when it still overlaps
    # the representative this much, with no differing fact: families do not split at the representative,
    # and one bridge article cannot chain a story that shares nothing with the representative
    # (`verify.joins_family`, `Engine._joins_family`, `cluster.guarded_components`).
    family_jaccard: float = 0.25
    family_containment: float = 0.5

    def __post_init__(self) -> None:
        for name in ("jaccard", "containment", "lsh_threshold", "short_lsh_threshold"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if self.lsh_threshold >= min(self.jaccard, self.containment):
            raise ValueError(
                f"lsh_threshold ({self.lsh_threshold}) must sit below the decision thresholds "
                f"(jaccard {self.jaccard}, containment {self.containment}), or true duplicates are never candidates"
            )
        if self.short_text_shingles < 0:
            raise ValueError("short_text_shingles must be 0 (no short-text bands) or more, "
                             f"got {self.short_text_shingles}")
        if self.min_shared_shingles < 1:
            raise ValueError(f"min_shared_shingles must be at least 1, got {self.min_shared_shingles}")


def signature_version(norm: NormalizationConfig, sig: SignatureConfig) -> str:
    return f"{norm};{sig}"
