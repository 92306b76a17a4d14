"""The one settings object, read from the environment (prefix DEDUP_) and a `.env` file at the program's edge."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dedup.candidates.bound import MAX_BAND_CANDIDATES
from dedup.config import DecisionConfig, NormalizationConfig, SignatureConfig

# The defaults of the parameters that decide duplicates live in the frozen configs, once.
_SIG = SignatureConfig()
_DECISION = DecisionConfig()

ENV_FILE = ".env"
_SECRET_WORDS = ("key", "secret", "password", "token")
_MASK = "****"


class Settings(BaseSettings):
    # A `.env` file in the working directory is read at start; variables set in the environment win over it.
    model_config = SettingsConfigDict(env_prefix="DEDUP_", extra="ignore", env_file=ENV_FILE,
                                      env_file_encoding="utf-8")

    database_url: str = Field("data/dedup.db", description="SQLite file path, or a postgresql:// URL")
    db_busy_timeout: float = Field(30.0, gt=0, le=3600, description="Seconds a write waits for a lock another "
                                   "connection holds (SQLite busy timeout, PostgreSQL lock_timeout) before the "
                                   "request answers 503 with Retry-After")
    redis_url: str | None = Field(None, description="Redis URL for an index shared by several workers")
    redis_prefix: str = Field("dedup", description="Key prefix of the shared index in Redis")
    redis_check_eviction: bool = Field(True, description="Refuse a Redis whose maxmemory-policy is not noeviction "
                                       "(evicted index keys are silently missed duplicates); false only when "
                                       "the policy cannot be read and is checked by other means")
    ngram: int = Field(_SIG.ngram, description="Characters per CJK shingle")
    word_ngram: int = Field(_SIG.word_ngram, description="Words per Latin-script shingle")
    num_perm: int = Field(_SIG.num_perm, description="MinHash permutations")
    seed: int = Field(_SIG.seed, description="MinHash seed")
    jaccard_threshold: float = Field(_DECISION.jaccard,
                                     description="Exact Jaccard at or above which a pair can be a duplicate")
    containment_threshold: float = Field(_DECISION.containment,
                                         description="Exact containment for excerpts and cut reposts")
    min_shared_shingles: int = Field(_DECISION.min_shared_shingles,
                                     description="Shared shingles a duplicate needs at least")
    lsh_threshold: float = Field(_DECISION.lsh_threshold,
                                 description="Jaccard at which LSH proposes a candidate (below the decision)")
    short_lsh_threshold: float = Field(_DECISION.short_lsh_threshold,
                                       description="Jaccard of the denser LSH bands kept for short texts (none when "
                                       "it is not below DEDUP_LSH_THRESHOLD)")
    short_text_shingles: int = Field(_DECISION.short_text_shingles, ge=0, le=100_000,
                                     description="Texts of at most this many shingles also get the denser bands "
                                     "(their containment anchors are too few to find a cut repost); 0: none")
    boilerplate_min_titles: int = Field(4, ge=0, description="A text line seen under this many mutually "
                                        "dissimilar titles (per source, else corpus-wide) is learned as "
                                        "boilerplate and removed before comparing; 0 turns learning off")
    boilerplate_refresh_seconds: float = Field(30.0, ge=0, description="How often a worker re-reads the "
                                               "boilerplate lines other workers learned")
    family_jaccard: float = Field(_DECISION.family_jaccard, description="An article duplicating a cluster member "
                                  "but not its representative joins at this Jaccard with the representative ...")
    family_containment: float = Field(_DECISION.family_containment,
                                      description="... or at this containment, with no differing fact")
    anchor_rate: int = Field(16, ge=0, le=1024, description="One shingle in this many is a containment anchor "
                             "(finds excerpts of long texts; lower finds shorter excerpts at more memory; 0: off)")
    max_band_candidates: int = Field(MAX_BAND_CANDIDATES, ge=20, description="Most LSH band candidates one lookup "
                                     "screens: those sharing the most bands, newest first among equals (keeps "
                                     "the cost of a lookup flat as the store grows; excerpts come from anchors)")
    max_matches: int = Field(20, ge=1, le=1000, description="Most verified duplicates reported per article")
    api_key: str | None = Field(None, description="When set, required on write and admin routes")
    max_article_bytes: int = Field(2_000_000, description="Largest text (UTF-8 bytes) ingest and search accept: "
                                   "normalization is linear, so this bounds one request's CPU work")
    max_batch: int = Field(1000, description="Most articles in one batch request")
    max_batch_bytes: int = Field(32_000_000, description="Largest accepted batch request body")
    recluster_cron: str = Field("0 3 * * *", description="When the scheduler starts the nightly re-cluster (cron)")
    recluster_workers: int = Field(2, ge=1, description="Processes that verify candidate pairs in a re-cluster run")
    recluster_engine: Literal["local", "spark"] = Field("local", description="Re-cluster engine of scheduled runs: "
                                                        "local or spark")
    recluster_reuse_verdicts: bool = Field(True, description="Reuse pair verdicts of earlier runs when provably "
                                           "unchanged (same texts, version, thresholds and rule code)")
    retention_days: int | None = Field(None, ge=1, description="When set, the scheduler deletes articles published "
                                       "(else ingested) more than this many days ago before each re-cluster run; "
                                       "off by default")
    spark_master: str = Field("local[2]", description="Spark master URL for `recluster --engine spark`")
    spark_export_dir: str | None = Field(None, description="Where the Spark engine writes its Parquet export "
                                         "(storage every executor can read); a temporary folder when unset")
    metrics_dir: str | None = Field(None, description="Folder the worker processes share for /metrics (Prometheus "
                                    "multiprocess mode); `dedup serve --workers N` sets one up")
    alerts_allow_private: bool = Field(False, description="Allow webhook targets on loopback or private "
                                       "addresses (refused by default: an alert must not reach internal services)")
    alerts_sender: bool = Field(True, description="Run the webhook sender in each server process (several "
                                "workers share the queue safely); false to send only with `dedup alerts send`")
    alert_timeout: float = Field(5.0, gt=0, le=120, description="Seconds a webhook target has to answer")
    alert_max_attempts: int = Field(8, ge=1, le=100, description="Attempts before a delivery is dead-lettered")
    alert_backoff: float = Field(2.0, gt=0, description="Seconds before the first retry; doubled per attempt, "
                                 "with jitter")
    alert_backoff_max: float = Field(3600.0, gt=0, description="Longest wait between two attempts, in seconds")
    alert_poll_interval: float = Field(2.0, gt=0, le=600, description="Seconds the sender sleeps when nothing is "
                                       "due (a commit that writes alerts wakes it at once)")
    startup_wait: float = Field(60.0, ge=0, description="Seconds the server retries an unreachable database or "
                                                        "Redis at start-up before it exits (status 3)")

    # -- checks when built: a value that cannot work is refused here, with the variable to fix, not later ----------
    @field_validator("recluster_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter  # only when settings are built, not when the module is imported

        if not croniter.is_valid(value):
            raise ValueError(f"DEDUP_RECLUSTER_CRON {value!r} is not a cron expression: give five fields, minute "
                             "hour day-of-month month day-of-week, e.g. '0 3 * * *' for 03:00 every day")
        return value

    @field_validator("jaccard_threshold", "containment_threshold", "lsh_threshold", "short_lsh_threshold",
                     "family_jaccard", "family_containment")
    @classmethod
    def _fraction(cls, value: float, info: ValidationInfo) -> float:
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{_env(info.field_name)} must be a fraction in (0, 1], got {value}")
        return value

    @field_validator("lsh_threshold")
    @classmethod
    def _lsh_below_the_decision(cls, value: float, info: ValidationInfo) -> float:
        jaccard, containment = info.data.get("jaccard_threshold"), info.data.get("containment_threshold")
        if jaccard is not None and containment is not None and value >= min(jaccard, containment):
            raise ValueError(f"DEDUP_LSH_THRESHOLD ({value}) must be below DEDUP_JACCARD_THRESHOLD ({jaccard}) and "
                             f"DEDUP_CONTAINMENT_THRESHOLD ({containment}): LSH proposes the candidates the exact "
                             "scores decide on, so a higher value never proposes some true duplicates")
        return value

    @field_validator("ngram", "word_ngram", "num_perm", "min_shared_shingles")
    @classmethod
    def _count_in_range(cls, value: int, info: ValidationInfo) -> int:
        low, high = _RANGES[info.field_name or ""]
        if not low <= value <= high:
            raise ValueError(f"{_env(info.field_name)} must be between {low} and {high}, got {value}")
        return value

    def normalization(self) -> NormalizationConfig:
        return NormalizationConfig()

    def signature(self) -> SignatureConfig:
        return SignatureConfig(ngram=self.ngram, word_ngram=self.word_ngram, num_perm=self.num_perm, seed=self.seed)

    def decision(self) -> DecisionConfig:
        return DecisionConfig(
            jaccard=self.jaccard_threshold,
            containment=self.containment_threshold,
            min_shared_shingles=self.min_shared_shingles,
            lsh_threshold=self.lsh_threshold,
            short_lsh_threshold=self.short_lsh_threshold,
            short_text_shingles=self.short_text_shingles,
            family_jaccard=self.family_jaccard,
            family_containment=self.family_containment,
        )


# What SignatureConfig and DecisionConfig accept (they check again when built).
_RANGES = {"ngram": (1, 16), "word_ngram": (1, 8), "num_perm": (16, 1024), "min_shared_shingles": (1, 1_000_000)}


def _env(field_name: str | None) -> str:
    return f"DEDUP_{(field_name or '').upper()}"


def _mask_url(value: str) -> str:
    """A URL with its password (and a user that is a bare token) replaced; a plain path as it is."""
    if "://" not in value:
        return value
    parts = urlsplit(value)
    if parts.password is None and not parts.username:
        return value
    user = parts.username if parts.password is not None else None
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    credentials = f"{user}:{_MASK}" if user else _MASK
    return urlunsplit((parts.scheme, f"{credentials}@{host}", parts.path, parts.query, parts.fragment))


def masked(settings: Settings) -> dict[str, object]:
    """Every effective setting, with secrets (keys, passwords, tokens, credentials in URLs) masked: safe to print
    or paste into a bug report."""
    out: dict[str, object] = {}
    for name, value in settings.model_dump().items():
        if value is not None and any(word in name for word in _SECRET_WORDS):
            out[name] = _MASK
        elif isinstance(value, str) and name.endswith("_url"):
            out[name] = _mask_url(value)
        else:
            out[name] = value
    return out


def backends(settings: Settings) -> dict[str, str]:
    """The store and index these settings select, in words, and the `.env` file read (if any)."""
    url = settings.database_url
    if url.startswith("postgresql"):
        parts = urlsplit(url)
        store = f"PostgreSQL database {parts.path.lstrip('/') or '(default)'} on {parts.hostname or 'localhost'}" \
                f":{parts.port or 5432}"
    elif "://" in url:
        store = f"SQLAlchemy URL {_mask_url(url)}"
    else:
        store = f"SQLite file {Path(url).expanduser().resolve()}"
    if settings.redis_url:
        parts = urlsplit(settings.redis_url)
        index = (f"shared Redis index at {parts.hostname or 'localhost'}:{parts.port or 6379}"
                 f"{parts.path or '/0'}, key prefix {settings.redis_prefix!r}")
    else:
        index = "in-process LSH index (rebuilt from the stored signatures at start)"
    env_file = Path(ENV_FILE).resolve()
    return {"store": store, "index": index, "env_file": str(env_file) if env_file.is_file() else "none"}
