"""``/v1/reps``: availability, capacity and the active flag of each rep."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Path

from leadpilot.errors import DataValidationError
from leadpilot.policy.availability import check_availability
from leadpilot.schema import Rep
from leadpilot.service.deps import Conn, Ctx, ReaderToken, WriterToken
from leadpilot.service.errors import NotFoundError
from leadpilot.service.schemas import OutOfOffice, RepPublic, RepUpdate
from leadpilot.store import reps as rep_store
from leadpilot.store.counters import rep_load
from leadpilot.store.engine import write_transaction
from leadpilot.store.lengths import TEXT_LENGTHS

router = APIRouter(prefix="/v1/reps", tags=["reps"])
RepId = Annotated[str, Path(min_length=1, max_length=TEXT_LENGTHS["reps"]["rep_id"])]


def rep_public(conn: Conn, rep: Rep, ctx: Ctx) -> RepPublic:
    """A rep with availability problems and current load, as the API shows it."""
    try:
        check_availability(rep)
        problem = None
    except DataValidationError as exc:  # stored before validation: shown, not routed
        problem = exc.message
    counted = rep if problem is None else replace(rep, timezone="UTC")
    open_leads, today = rep_load(conn, counted, ctx.clock())
    return RepPublic(
        rep_id=rep.rep_id,
        name=rep.name,
        email=rep.email,
        pool=rep.pool,
        role=rep.role,
        regions=list(rep.regions),
        industries=list(rep.industries),
        products=list(rep.products),
        languages=list(rep.languages),
        max_leads_per_day=rep.max_leads_per_day,
        max_open_leads=rep.max_open_leads,
        timezone=rep.timezone,
        working_hours=rep.working_hours,
        active=rep.active,
        start_date=rep.start_date,
        backup_rep_id=rep.backup_rep_id,
        out_of_office=[OutOfOffice(starts_at=s, ends_at=e) for s, e in rep.out_of_office],
        open_leads=open_leads,
        leads_today=today,
        problem=problem,
    )


@router.get("", response_model=list[RepPublic])
def list_reps(ctx: Ctx, conn: Conn, _token: ReaderToken) -> list[RepPublic]:
    """Every rep with availability and current load."""
    return [rep_public(conn, rep, ctx) for rep in rep_store.list_reps(conn)]


@router.get("/{rep_id}", response_model=RepPublic)
def get_rep(rep_id: RepId, ctx: Ctx, conn: Conn, _token: ReaderToken) -> RepPublic:
    """One rep with availability, capacity and current load."""
    rep = rep_store.get_rep(conn, rep_id)
    if rep is None:
        raise NotFoundError(f"no rep {rep_id!r}", hint="GET /v1/reps lists the known reps")
    return rep_public(conn, rep, ctx)


@router.put("/{rep_id}", response_model=RepPublic)
def put_rep(rep_id: RepId, body: RepUpdate, ctx: Ctx, conn: Conn, _token: WriterToken) -> RepPublic:
    """Create a rep or change its availability, capacity or active flag."""
    update_rep(ctx, rep_id, body)
    rep = rep_store.get_rep(conn, rep_id)
    assert rep is not None
    return rep_public(conn, rep, ctx)


def update_rep(ctx: Ctx, rep_id: str, body: RepUpdate) -> None:
    """Apply ``body`` to the rep (created if new), validated before any write: the one
    path of ``PUT /v1/reps/{id}`` and the console's reps form."""
    with write_transaction(ctx.engine) as wconn:
        current = rep_store.get_rep(wconn, rep_id) or Rep(rep_id=rep_id)
        changes = body.model_dump(exclude_unset=True, exclude={"out_of_office"})
        for key in ("regions", "industries", "products", "languages"):
            if key in changes:
                changes[key] = tuple(changes[key] or ())
        if "timezone" in changes and changes["timezone"] is None:
            changes["timezone"] = "UTC"
        updated = replace(current, **changes)
        check_availability(updated)  # before any write: a 422 leaves the rep as it was
        rep_store.upsert_reps(wconn, [updated])
        if body.out_of_office is not None:
            rep_store.replace_out_of_office(
                wconn, rep_id, [(o.starts_at, o.ends_at) for o in body.out_of_office]
            )
