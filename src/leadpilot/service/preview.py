"""Routing previews: the active policy run on one lead against the live counters, without
assigning it (``POST /v1/preview`` and the console's "Test a lead" page).

The same ``policy.route`` the intake calls, on the same snapshot, with nothing written: the
counters, cursors and decision log are left as they were, so a preview can be repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel

from leadpilot.policy.explain import exclusion_text, explain
from leadpilot.policy.router import route
from leadpilot.schema import Decision, Lead
from leadpilot.service.context import ServiceContext
from leadpilot.service.schemas import DecisionPublic
from leadpilot.store.decisions import decision_row

__all__ = ["CandidateRow", "PreviewPublic", "candidate_rows", "preview_decision", "preview_public"]


class CandidateRow(BaseModel):
    """One rep the decision looked at: excluded (code and why) or scored (p, price, score)."""

    rep_id: str
    chosen: bool
    exclusion: str | None = None
    why_excluded: str | None = None
    p_convert: float | None = None
    price: float | None = None
    score: float | None = None


class PreviewPublic(BaseModel):
    """What routing would do with the lead now: the decision (not stored), every rep with
    its exclusion code or scores, and the explanation in words."""

    decision: DecisionPublic
    candidates: list[CandidateRow]
    explanation: str
    note: str


@dataclass(frozen=True, slots=True)
class Preview:
    """A decision made but not committed."""

    lead: Lead
    decision: Decision


def preview_decision(
    ctx: ServiceContext, conn: sa.Connection, lead: Lead, now: datetime, *, seed: int = 0
) -> Preview:
    """Route ``lead`` at ``now`` with the active policy, roster, model and counters, and
    write nothing. ``seed`` fixes the random branches (exploration, holdout, ties)."""
    snapshot = ctx.service.inputs.load(conn, now)
    decision = route(lead, snapshot.inputs, snapshot.state, now, np.random.default_rng(seed))
    return Preview(lead=lead, decision=decision)


def candidate_rows(decision: Decision) -> list[CandidateRow]:
    """Scored candidates first (best score first), then the excluded reps by code."""
    texts = exclusion_text()
    scored = sorted(decision.candidates, key=lambda c: -(c.score if c.score is not None else -1e9))
    rows = [
        CandidateRow(
            rep_id=c.rep_id,
            chosen=c.rep_id == decision.rep_id,
            p_convert=c.p_convert,
            price=c.price,
            score=c.score,
        )
        for c in scored
    ]
    seen = {c.rep_id for c in decision.candidates}
    for rep_id, code in sorted(decision.exclusions.items(), key=lambda kv: (kv[1], kv[0])):
        if rep_id not in seen:
            rows.append(
                CandidateRow(
                    rep_id=rep_id,
                    chosen=rep_id == decision.rep_id,
                    exclusion=code,
                    why_excluded=texts.get(code.partition(":")[0], texts.get(code)),
                )
            )
    if decision.rep_id is not None and not any(r.chosen for r in rows):
        rows.insert(0, CandidateRow(rep_id=decision.rep_id, chosen=True))
    return rows


def preview_public(preview: Preview) -> PreviewPublic:
    """The JSON answer of ``POST /v1/preview``."""
    row = decision_row(preview.decision, trigger="preview", seq=0)
    return PreviewPublic(
        decision=DecisionPublic.model_validate({**row, "id": 0, "live": False}),
        candidates=candidate_rows(preview.decision),
        explanation=explain(preview.decision),
        note="a preview: nothing was assigned, counted or logged",
    )
