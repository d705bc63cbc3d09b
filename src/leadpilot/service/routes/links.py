"""``/links/{token}``: the Accept / Decline links of a new-lead notice.

``GET`` shows what the link will do and a button; ``POST`` (the button) records the event
exactly as ``POST /v1/events`` would. Acting on ``GET`` alone would let link previewers
(chat unfurling, mail scanners) accept or decline on the rep's behalf.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from leadpilot.crm.links import LinkClaims, link_event_id, read_link_token
from leadpilot.errors import LeadpilotError
from leadpilot.service.deps import Ctx
from leadpilot.service.events import handle_event
from leadpilot.service.fit_feedback import fit_rating_event
from leadpilot.service.rep_notify import link_secret
from leadpilot.service.schemas import EventCreate

__all__ = ["router"]

router = APIRouter(prefix="/links", tags=["links"], include_in_schema=False)

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>leadpilot: {title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;
color:#1a1a1a}}h1{{font-size:1.4rem}}button{{font-size:1rem;padding:.6rem 1.4rem;border:0;
border-radius:6px;background:#1f6feb;color:#fff;cursor:pointer}}.muted{{color:#555}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""

_VERB = {"accept": ("Accept", "accepted"), "decline": ("Decline", "declined")}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status)


def _claims(request: Request, ctx: Ctx, token: str) -> LinkClaims | HTMLResponse:
    found = read_link_token(link_secret(ctx.service, request.app.state.crm), token, ctx.clock())
    if found == "expired":
        return _page(
            "This link has expired",
            "<p>Links in a new-lead notice work for a limited time. Open the lead in your CRM "
            "or ask your operations team to reassign it.</p>",
            410,
        )
    if isinstance(found, str):
        return _page("This link is not valid", "<p>It may have been altered or cut off.</p>", 403)
    return found


@router.get("/{token}", response_class=HTMLResponse)
def show_link(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """What the link will do, with a button to do it."""
    claims = _claims(request, ctx, token)
    if isinstance(claims, HTMLResponse):
        return claims
    label, _ = _VERB[claims.action]
    return _page(
        f"{label} lead {claims.lead_id}?",
        f"<p class='muted'>For rep {escape(claims.rep_id)}. This can be done once.</p>"
        f"<form method='post'><button type='submit'>{label}</button></form>",
    )


@router.post("/{token}", response_class=HTMLResponse)
def use_link(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """Record the accept or decline, once."""
    claims = _claims(request, ctx, token)
    if isinstance(claims, HTMLResponse):
        return claims
    _, past = _VERB[claims.action]
    body = EventCreate(
        event_id=link_event_id(claims),
        type="accepted" if claims.action == "accept" else "declined",
        lead_id=claims.lead_id,
        rep_id=claims.rep_id,
        reason="link",
    )
    try:
        outcome = handle_event(ctx.service, body)
    except LeadpilotError as exc:
        # The other link of this offer was used first (same event id, other content), or
        # the lead moved on: say so, record nothing.
        return _page(
            "This link can no longer be used",
            f"<p>{escape(exc.message)}</p><p class='muted'>An offer is answered once, by "
            "its first Accept or Decline.</p>",
            409,
        )
    if outcome.duplicate:
        return _page(
            "Already done",
            f"<p>This link was already used: lead {escape(claims.lead_id)} was {past}.</p>",
            409,
        )
    return _page(
        f"Lead {claims.lead_id} {past}",
        f"<p>Thank you. The lead is {past}.</p>"
        "<p>How well did this lead fit you? (optional: your operations team sees it in "
        "the routing reports)</p>"
        f"<form method='post' action='/links/{escape(token)}/fit'>"
        "<p><input name='reason' maxlength='200' placeholder='why (optional)' size='30'></p>"
        "<button type='submit' name='fit' value='good'>Good fit</button> "
        "<button type='submit' name='fit' value='poor'>Poor fit</button></form>",
    )


@router.post("/{token}/fit", response_class=HTMLResponse)
async def rate_fit(token: str, request: Request, ctx: Ctx) -> HTMLResponse:
    """Record the rep's fit rating of the link's lead (``fit_feedback``), once per offer."""
    claims = _claims(request, ctx, token)
    if isinstance(claims, HTMLResponse):
        return claims
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    body = fit_rating_event(f"{link_event_id(claims)}:fit", claims.lead_id, claims.rep_id, form)
    if body is None:
        return _page("Pick good or poor fit", "<p>Use the buttons of the previous page.</p>", 422)
    try:
        outcome = handle_event(ctx.service, body)
    except LeadpilotError as exc:
        return _page("Not recorded", f"<p>{escape(exc.message)}</p>", 409)
    if outcome.duplicate:
        return _page("Already rated", "<p>This lead's fit was already rated.</p>", 409)
    return _page("Thank you", f"<p>Lead {escape(claims.lead_id)}: rated a {body.fit} fit.</p>")
