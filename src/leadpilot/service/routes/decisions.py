"""``/v1/decisions``: the audit log with reason codes, candidates and exclusions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from leadpilot.service.deps import Conn, ReaderToken
from leadpilot.service.schemas import MAX_ID, DecisionPublic, decision_public
from leadpilot.store.decisions import list_decisions

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@router.get("", response_model=list[DecisionPublic])
def get_decisions(
    conn: Conn,
    _token: ReaderToken,
    lead_id: Annotated[str | None, Query(max_length=128)] = None,
    rep_id: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    after_id: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="page after this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DecisionPublic]:
    """Decisions filtered by lead, rep or time, oldest first (page with ``after_id``)."""
    found = list_decisions(
        conn, lead_id=lead_id, rep_id=rep_id, since=since, limit=limit, after_id=after_id
    )
    return [decision_public(d) for d in found]
