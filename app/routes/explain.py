"""Why two stored articles are, or are not, duplicates."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends

from dedup.engine import Engine

from ..deps import IdQuery, get_engine
from ..schemas import ErrorOut, ExplainOut, PassageOut
from ..shaping import article_ref

router = APIRouter(prefix="/v1", tags=["explain"])
EngineDep = Annotated[Engine, Depends(get_engine)]
_MAX_PASSAGES = 200


@router.get("/explain", response_model=ExplainOut,
            responses={404: {"model": ErrorOut, "description": "No stored article has id a (or b)"}})
def explain(a: IdQuery, b: IdQuery, engine: EngineDep) -> ExplainOut:
    """Exact scores, the decision and its reason, and the shared and differing passages of the normalized texts."""
    x = engine.explain(a, b)
    s = x.verdict.scores
    return ExplainOut(
        a=article_ref(x.a), b=article_ref(x.b), decision="duplicate" if x.verdict.is_duplicate else "distinct",
        is_duplicate=x.verdict.is_duplicate, reason=x.verdict.reason, jaccard=round(s.jaccard, 4),
        containment=round(s.containment, 4), shared_shingles=s.shared, shingles_a=s.size_a, shingles_b=s.size_b,
        conflicts=[{"a": c.a, "b": c.b, "kind": c.kind} for c in x.verdict.conflicts],
        shared=[PassageOut(**asdict(p)) for p in x.shared[:_MAX_PASSAGES]],
        differing=[PassageOut(**asdict(p)) for p in x.differing[:_MAX_PASSAGES]],
    )
