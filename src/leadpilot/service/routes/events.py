"""``/v1/events``: first touch, accept, decline, milestones, reassignment, out of office."""

from __future__ import annotations

from fastapi import APIRouter, Response

from leadpilot.service.deps import Ctx, WriterToken
from leadpilot.service.events import handle_event
from leadpilot.service.schemas import EventCreate, EventPublic, event_public

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post(
    "",
    response_model=EventPublic,
    status_code=201,
    responses={200: {"model": EventPublic, "description": "Event already applied"}},
)
def post_event(body: EventCreate, ctx: Ctx, response: Response, _token: WriterToken) -> EventPublic:
    """Apply an event once (a repeated ``event_id`` returns the first outcome with 200).
    first_touch/accepted stop the SLA timer; declined reroutes (never back to a decliner)."""
    outcome = handle_event(ctx.service, body)
    response.status_code = 200 if outcome.duplicate else 201
    return event_public(outcome)
