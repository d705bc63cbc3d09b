"""The weekly review's optional narrative (``report weekly --llm-url``): what is sent to the
language model and what it is asked. The request is ``leadpilot.llm_narrative``'s, shared
with the audit.

Only computed figures leave the machine, chosen key by key (an allow-list, so a field added
to the review later is not sent by accident): KPI rates with their intervals and targets,
the champion's held-out figures and this week's calibration, alert counts by kind, the
recommended changes with their numbers, and counts of misrouted leads. Never a lead's id,
e-mail, company or fields, and never an alert's message (an SLA alert names the lead).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["WEEKLY_PROMPT", "request_weekly_narrative", "weekly_narrative_payload"]

WEEKLY_PROMPT = (
    "You are a revenue-operations analyst. You receive the JSON figures of a weekly "
    "lead-routing review computed by leadpilot: KPIs against their targets and last week, "
    "the routing model's health, alert counts and the recommended changes. Write a short "
    "narrative for a sales leader (120-200 words, plain paragraphs, no headings, no tables). "
    "Use only numbers that appear in the JSON and keep their intervals when you cite them; "
    "call a KPI up or down only where its 'change' says so; recommend nothing beyond the "
    "listed changes."
)

_KPI_KEYS = ("kpi", "kind", "this_week", "last_week", "target", "sense", "target_met",
             "target_from", "change")  # fmt: skip


def weekly_narrative_payload(doc: dict[str, Any]) -> dict[str, Any]:
    """The figures of ``weekly_report(...)`` a narrative may use: aggregates only."""
    model = doc.get("model") or {}
    alerts = doc.get("alerts") or []
    misrouted = doc.get("misrouted") or {}
    return {
        "week": {"since": doc["since"], "until": doc["until"]},
        "policy_version": doc.get("policy_version"),
        "kpis": [{k: row.get(k) for k in _KPI_KEYS} for row in doc.get("kpis", [])],
        "model": {
            "champion": model.get("champion"),
            "promoted_at": model.get("promoted_at"),
            "held_out": model.get("held_out"),
            "calibration_this_week": model.get("calibration_this_week"),
            "versions_trained_this_week": [
                {"status": v.get("status"), "reason": v.get("reason")}
                for v in model.get("versions_trained_this_week", [])
            ],
        },
        "alerts": {
            "raised": len(alerts),
            "by_kind": dict(sorted(Counter(a["kind"] for a in alerts).items())),
            "by_severity": dict(sorted(Counter(a["severity"] for a in alerts).items())),
            "still_open": sum(1 for a in alerts if a.get("status") == "open"),
        },
        "misrouted": {
            "closed_with_a_score": misrouted.get("closed_scored", 0),
            "high_predicted_lost": len(misrouted.get("high_predicted_lost", [])),
            "low_predicted_won": len(misrouted.get("low_predicted_won", [])),
        },
        "fit_feedback": doc.get("fit_feedback"),
        "recommendations": [
            {"area": r["area"], "change": r["change"], "evidence": r["evidence"]}
            for r in doc.get("recommendations", [])
        ],
        "notes": list(doc.get("notes", [])),
    }


def request_weekly_narrative(
    doc: dict[str, Any], *, url: str, model: str, timeout: float = 120.0
) -> dict[str, str]:
    """``{"model": ..., "text": ...}`` for the review ``doc``; ``ConfigError`` when the
    endpoint fails (as the audit's)."""
    from leadpilot.llm_narrative import chat_narrative

    return chat_narrative(
        weekly_narrative_payload(doc),
        system_prompt=WEEKLY_PROMPT,
        url=url,
        model=model,
        timeout=timeout,
    )
