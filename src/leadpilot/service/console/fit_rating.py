"""Rating a lead's fit from the console's decision page: an admin records the owner's
"good fit / poor fit" (with a reason) as the same ``fit_feedback`` event the signed
accept/decline page and ``POST /v1/events`` record, once per decision."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from leadpilot.errors import LeadpilotError
from leadpilot.service.console.pages import admin_form, error_page
from leadpilot.service.deps import Ctx
from leadpilot.service.errors import ConflictError
from leadpilot.service.events import handle_event
from leadpilot.service.fit_feedback import fit_rating_event
from leadpilot.store.console_reads import decision_by_id

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.post("/decisions/{decision_id}/fit")
async def rate_fit(decision_id: int, request: Request, ctx: Ctx) -> Response:
    """Admin: record the fit rating of the decision's lead by the rep it went to."""
    admin = await admin_form(request, "rate leads")
    if isinstance(admin, HTMLResponse):
        return admin
    user, form = admin
    with ctx.engine.connect() as conn:
        found = decision_by_id(conn, decision_id)
    if found is None:
        return error_page(user, 404, "No such decision", f"There is no decision {decision_id}.")
    decision = found[0].decision
    if decision.rep_id is None:
        return error_page(
            user, 422, "Not recorded", "The decision gave the lead to nobody: no rep to rate it."
        )
    body = fit_rating_event(
        f"console:decision:{decision_id}:fit", decision.lead_id, decision.rep_id, form
    )
    if body is None:
        fit = form.get("fit", "")
        return error_page(user, 422, "Not recorded", f"fit must be good or poor, got {fit!r}")
    already = error_page(
        user, 409, "Already rated", f"Decision {decision_id}'s lead was already rated."
    )
    try:
        outcome = handle_event(ctx.service, body)
    except ConflictError:  # the decision's event id holds the earlier, different rating
        return already
    except LeadpilotError as exc:
        return error_page(user, 409, "Not recorded", exc.message, exc.hint)
    if outcome.duplicate:
        return already
    return RedirectResponse(f"/decisions/{decision_id}?rated={body.fit}", status_code=303)
