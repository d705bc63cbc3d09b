"""The decision log: every routing decision with its full record; one live per lead."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadpilot.schema import Candidate, Decision
from leadpilot.store.tables import decisions

__all__ = [
    "decision_from_row",
    "decision_row",
    "insert_decision",
    "list_decisions",
    "live_decision",
    "retire_live_decision",
]


# Built once, values as parameters (the hot path skips statement construction).
_INSERT_DECISION = decisions.insert().returning(decisions.c.id)


def insert_decision(
    conn: sa.Connection, decision: Decision, *, trigger: str, first: bool = False
) -> int:
    """Append ``decision`` as the lead's live decision (the caller retires the previous one
    first; ``first`` says there is none); returns the new row id."""
    seq = (
        1
        if first
        else (
            conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(decisions.c.seq), 0)).where(
                    decisions.c.lead_id == decision.lead_id
                )
            ).scalar_one()
            + 1
        )
    )
    return int(
        conn.execute(
            _INSERT_DECISION, decision_row(decision, trigger=trigger, seq=seq)
        ).scalar_one()
    )


def decision_row(decision: Decision, *, trigger: str, seq: int) -> dict[str, Any]:
    """The ``decisions`` row (without its id) of ``decision`` as the lead's live one."""
    return {
        "lead_id": decision.lead_id,
        "seq": seq,
        "live": True,
        "trigger": trigger,
        "rep_id": decision.rep_id,
        "pool": decision.pool,
        "lane": decision.lane,
        "strategy": decision.strategy,
        "reasons": list(decision.reasons),
        "candidates": [
            {
                "rep_id": c.rep_id,
                "p_convert": c.p_convert,
                "price": c.price,
                "score": c.score,
            }
            for c in decision.candidates
        ],
        "exclusions": dict(decision.exclusions),
        "p_convert": decision.p_convert,
        "confidence": decision.confidence,
        "propensity": decision.propensity,
        "model_version": decision.model_version,
        "policy_version": decision.policy_version,
        "decided_at": decision.decided_at,
        "sla_deadline": decision.sla_deadline,
        "mode": decision.mode,
        "shadow_rep_id": decision.shadow_rep_id,
        "fit_score": decision.fit_score,
        "intent_score": decision.intent_score,
        "grade": decision.grade,
    }


def decision_from_row(row: sa.Row[Any]) -> Decision:
    """Rebuild the ``schema.Decision`` of a stored row."""
    return Decision(
        lead_id=row.lead_id,
        rep_id=row.rep_id,
        pool=row.pool,
        lane=row.lane,
        strategy=row.strategy,
        reasons=tuple(row.reasons),
        decided_at=row.decided_at,
        candidates=tuple(Candidate(**c) for c in row.candidates),
        exclusions=dict(row.exclusions),
        p_convert=row.p_convert,
        confidence=row.confidence,
        propensity=row.propensity,
        model_version=row.model_version,
        policy_version=row.policy_version,
        sla_deadline=row.sla_deadline,
        mode=row.mode,
        shadow_rep_id=row.shadow_rep_id,
        fit_score=row.fit_score,
        intent_score=row.intent_score,
        grade=row.grade,
    )


def live_decision(conn: sa.Connection, lead_id: str) -> Any:
    """The lead's live decision row, or ``None``."""
    return conn.execute(
        sa.select(decisions).where(decisions.c.lead_id == lead_id, decisions.c.live)
    ).first()


def retire_live_decision(conn: sa.Connection, lead_id: str) -> None:
    """Mark the lead's live decision as superseded."""
    conn.execute(
        decisions.update()
        .where(decisions.c.lead_id == lead_id, decisions.c.live)
        .values(live=False)
    )


def list_decisions(
    conn: sa.Connection,
    *,
    lead_id: str | None = None,
    rep_id: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    after_id: int | None = None,
) -> list[sa.Row[Any]]:
    """Decision rows in order of id (time of decision), filtered, at most ``limit``."""
    query = sa.select(decisions).order_by(decisions.c.id).limit(limit)
    if lead_id is not None:
        query = query.where(decisions.c.lead_id == lead_id)
    if rep_id is not None:
        query = query.where(decisions.c.rep_id == rep_id)
    if since is not None:
        query = query.where(decisions.c.decided_at >= since)
    if after_id is not None:
        query = query.where(decisions.c.id > after_id)
    return list(conn.execute(query).all())
