"""``/v1/preview``: what the active policy would do with a lead now, without assigning it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from leadpilot.service.deps import Conn, Ctx, ReaderToken
from leadpilot.service.preview import PreviewPublic, preview_decision, preview_public
from leadpilot.service.schemas import LeadCreate, lead_from_create

router = APIRouter(prefix="/v1", tags=["preview"])


@router.post("/preview", response_model=PreviewPublic)
def post_preview(
    body: LeadCreate,
    ctx: Ctx,
    conn: Conn,
    _token: ReaderToken,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="fixes random branches")] = 0,
) -> PreviewPublic:
    """Run the active policy on one lead (the intake's shape) against the live counters and
    answer the decision, every rep with its exclusion code or p / price / score, and the
    explanation. Nothing is assigned, counted or logged; any token may preview."""
    now = ctx.clock()
    return preview_public(preview_decision(ctx, conn, lead_from_create(body, now), now, seed=seed))
