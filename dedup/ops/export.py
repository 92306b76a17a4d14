"""Exports of the clustering: every article with its cluster, the cluster's representative and its exact score to
that representative, or (`one-per-cluster`) only the representatives: the deduplicated dataset.

Rows are produced a page of clusters at a time (never the whole corpus in memory), so `dedup export` and
`GET /v1/export` can stream any size. The representative is the one the clusters use (`cluster.rep_key`:
earliest published, else earliest ingested).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from dedup.clusters.bookkeeping import rep_key
from dedup.config import SignatureConfig
from dedup.decide.verify import exact_scores
from dedup.sketch.shingle import shingle_hashes
from dedup.store import SqlStore
from dedup.store.sql import articles

FORMATS = ("jsonl", "csv", "parquet")
KEEPS = ("all", "one-per-cluster")
FIELDS = ("id", "url", "cluster_id", "representative_url", "is_representative", "score", "containment", "source",
          "title", "published_at")
_PAGE = 500  # clusters per read


def _cluster_pages(store: SqlStore) -> Iterator[list[int]]:
    last = 0
    column = articles.c.cluster_id
    while True:
        with store.engine.connect() as conn:
            page = list(conn.execute(sa.select(column).distinct().where(column > last).order_by(column)
                                     .limit(_PAGE)).scalars())
        if not page:
            return
        yield page
        last = page[-1]


def _members(store: SqlStore, cluster_ids: list[int], with_text: bool) -> dict[int, list]:
    a = articles.c
    columns = [a.id, a.url, a.cluster_id, a.source, a.title, a.published_at] + ([a.norm_text] if with_text else [])
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(*columns).where(a.cluster_id.in_(cluster_ids)).order_by(a.id)).all()
    out: dict[int, list] = {}
    for row in rows:
        out.setdefault(row.cluster_id, []).append(row)
    return out


def iter_rows(store: SqlStore, config: SignatureConfig, keep: str = "all") -> Iterator[dict]:
    """One dict per exported article (fields `FIELDS`), cluster by cluster in id order, representative first.
    `score` and `containment` are the exact Jaccard and containment of the article's shingles to the
    representative's (1.0 for the representative itself)."""
    if keep not in KEEPS:
        raise ValueError(f"keep: expected one of {', '.join(KEEPS)}")
    scored = keep == "all"
    for page in _cluster_pages(store):
        groups = _members(store, page, with_text=scored)
        for cluster_id in page:
            members = sorted(groups.get(cluster_id, []), key=lambda r: rep_key(r.published_at, r.id))
            if not members:
                continue
            rep = members[0]
            rep_shingles = shingle_hashes(rep.norm_text, config) if scored else None
            for member in members if scored else members[:1]:
                score = containment = 1.0
                if member is not rep:
                    assert rep_shingles is not None  # scored
                    scores = exact_scores(shingle_hashes(member.norm_text, config), rep_shingles)
                    score, containment = round(scores.jaccard, 4), round(scores.containment, 4)
                yield {"id": member.id, "url": member.url, "cluster_id": cluster_id, "representative_url": rep.url,
                       "is_representative": member is rep, "score": score, "containment": containment,
                       "source": member.source, "title": member.title, "published_at": member.published_at}


def jsonl_chunks(rows: Iterator[dict], batch: int = 200) -> Iterator[str]:
    lines: list[str] = []
    for row in rows:
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
        if len(lines) >= batch:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def csv_chunks(rows: Iterator[dict], batch: int = 200) -> Iterator[str]:
    """A header, then the rows (RFC 4180 quoting: titles may hold commas, quotes and newlines)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_parquet(rows: Iterator[dict], path: Path, batch: int = 5_000) -> int:
    """Row groups of `batch` rows; returns the number of rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.int64()), ("url", pa.string()), ("cluster_id", pa.int64()),
                        ("representative_url", pa.string()), ("is_representative", pa.bool_()),
                        ("score", pa.float64()), ("containment", pa.float64()), ("source", pa.string()),
                        ("title", pa.string()), ("published_at", pa.string())])
    written = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        chunk: list[dict] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                written, chunk = written + len(chunk), []
        if chunk or not written:
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
            written += len(chunk)
    return written
