"""``/v1/leads``: intake (dedupe, route, persist atomically) and lookup."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from leadpilot.ingest.crm_payloads import canonical_from_payload
from leadpilot.service.context import ServiceContext
from leadpilot.service.core import IntakeRequest, RevokedTokenError
from leadpilot.service.deps import (
    Conn,
    Ctx,
    PendingToken,
    ReaderToken,
    WriterTokenPending,
    unknown_token,
)
from leadpilot.service.errors import NotFoundError
from leadpilot.service.outcomes import IntakeOutcome
from leadpilot.service.schemas import (
    AssigneePublic,
    IntakePublic,
    LeadCreate,
    LeadPublic,
    decision_public,
    intake_public,
    lead_from_create,
)
from leadpilot.store.assignees import read_history
from leadpilot.store.decisions import list_decisions
from leadpilot.store.idempotency import request_fingerprint
from leadpilot.store.leads import find_lead_row
from leadpilot.store.tokens import hash_token

router = APIRouter(prefix="/v1/leads", tags=["leads"])


def _canonical(body: LeadCreate | dict[str, Any], fmt: str) -> LeadCreate:
    if isinstance(body, LeadCreate) and fmt == "canonical":
        return body
    raw = body.raw if isinstance(body, LeadCreate) else body
    data = raw if fmt == "canonical" else canonical_from_payload(raw, fmt)
    try:
        return LeadCreate.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


# service.intake_fast serves this route's canonical requests without FastAPI: a parameter
# added here must be read there too (tests/service/test_intake_fast.py checks the list).
@router.post(
    "",
    response_model=IntakePublic,
    status_code=201,
    responses={200: {"model": IntakePublic, "description": "Duplicate or retried request"}},
)
async def post_lead(
    body: Annotated[LeadCreate | dict[str, Any], Body()],
    ctx: Ctx,
    token: WriterTokenPending,
    format: Annotated[
        Literal["canonical", "hubspot", "salesforce"], Query(description="payload shape")
    ] = "canonical",
    idempotency_key: Annotated[str | None, Header(max_length=256)] = None,
) -> Response:
    """Route one lead: dedupe (same id, external id or email: no second routing), link its
    account, decide, and store lead + decision + router state in one transaction. 201 for a
    new lead, 200 for a duplicate or a retried ``Idempotency-Key``."""
    return await intake_response(ctx, body, token, format, idempotency_key)


async def intake_response(
    ctx: ServiceContext,
    body: LeadCreate | dict[str, Any],
    token: PendingToken,
    format: str,
    idempotency_key: str | None,
) -> Response:
    """The answer to one ``POST /v1/leads`` whose body, token and parameters FastAPI (or
    ``service.intake_fast``, the same checks) parsed: the intake, then 201/200 and its
    body. Raises what refused it (401/403/422/503), for the app's error handlers."""
    prepare = functools.partial(_prepare, body, ctx, token, format, idempotency_key)
    writer = ctx.intake_writer
    try:
        if writer is not None:  # SQLite: the intake thread, several intakes per commit
            outcome = await asyncio.wrap_future(writer.submit(prepare))
        else:
            # One thread hand-off for the token lookup and the intake (both read the database).
            outcome = await run_in_threadpool(_intake, ctx, prepare)
    except RevokedTokenError:
        token.forget(ctx, hash_token(token.token))
        raise unknown_token() from None
    # 201: a new lead was routed (also when this is a retry of that request); 200: a
    # duplicate of a stored lead, nothing routed. The body is the validated IntakePublic
    # serialised once: returning a Response skips FastAPI's second validation of it against
    # response_model (and that pass's thread hand-off), ~10% of the request's CPU.
    return Response(
        content=intake_public(outcome).model_dump_json(),
        status_code=200 if outcome.duplicate else 201,
        media_type="application/json",
    )


def _prepare(
    body: LeadCreate | dict[str, Any],
    ctx: ServiceContext,
    token: PendingToken,
    format: str,
    idempotency_key: str | None,
) -> IntakeRequest:
    """The intake of a request, checked: 401/403 before anything is read or written (a token
    found live before is checked again in the intake's own read, see
    ``PendingToken.verify_for_intake``), 422 for a lead that does not validate."""
    _, token_hash = token.verify_for_intake(ctx)
    lead_in = _canonical(body, format)
    lead = lead_from_create(lead_in, ctx.clock())
    # Only a request with an Idempotency-Key is remembered, so only it needs a fingerprint.
    fingerprint = (
        request_fingerprint(
            "POST",
            f"/v1/leads?format={format}",
            body.model_dump(mode="json") if isinstance(body, LeadCreate) else body,
        )
        if idempotency_key
        else ""
    )
    return IntakeRequest(lead, idempotency_key, fingerprint, token_hash)


def _intake(ctx: ServiceContext, prepare: Callable[[], IntakeRequest]) -> IntakeOutcome:
    request = prepare()
    return ctx.service.intake(
        request.lead,
        idempotency_key=request.idempotency_key,
        fingerprint=request.fingerprint,
        token_hash=request.token_hash,
    )


@router.get("/{lead_id}", response_model=LeadPublic)
def get_lead(lead_id: str, conn: Conn, _token: ReaderToken) -> LeadPublic:
    """A lead with its status, owner, milestones and every decision about it. ``lead_id`` is
    the id returned at intake or the CRM record id (``external_id``, e.g. ``hubspot:901``)."""
    row = find_lead_row(conn, lead_id)
    if row is None:
        raise NotFoundError(
            f"no lead {lead_id!r}",
            hint="use the lead_id returned at intake or the CRM record id (external_id)",
        )
    data = dict(row._mapping)
    for key in ("email", "external_id", "company", "domain"):
        data.pop(key, None)
    data["assignees"] = [
        AssigneePublic(**dataclasses.asdict(s), lapsed=s.lapsed)
        for s in read_history(conn, row.lead_id)
    ]
    data["decisions"] = [
        decision_public(d) for d in list_decisions(conn, lead_id=row.lead_id, limit=1000)
    ]
    return LeadPublic(**data)
