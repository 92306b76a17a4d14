"""The clustering as a download, streamed a page of clusters at a time (any corpus size, constant memory)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from dedup.engine import Engine
from dedup.ops.export import csv_chunks, jsonl_chunks

from ..deps import get_engine
from ..schemas import Responses

router = APIRouter(prefix="/v1", tags=["export"])
EngineDep = Annotated[Engine, Depends(get_engine)]
_MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
_EXPORTED: Responses = {200: {
    "description": "One row per article (or per cluster with `keep=one-per-cluster`): id, url, cluster_id, "
                   "representative_url, is_representative, score, containment, source, title, published_at",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}}}}}


@router.get("/export", response_class=StreamingResponse, responses=_EXPORTED)
def export(engine: EngineDep, format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl",  # noqa: A002
           keep: Annotated[Literal["all", "one-per-cluster"], Query()] = "all") -> StreamingResponse:
    """Every article with its cluster, the representative's URL and the exact score to it, cluster by cluster
    (representative first); `keep=one-per-cluster` gives only representatives: the deduplicated dataset.
    Parquet: `dedup export --format parquet -o FILE`."""
    rows = engine.export_rows(keep)
    chunks = jsonl_chunks(rows) if format == "jsonl" else csv_chunks(rows)
    name = f"dedup-export{'-representatives' if keep != 'all' else ''}.{format}"
    return StreamingResponse(chunks, media_type=_MEDIA[format],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
