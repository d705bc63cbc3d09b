"""Each rep's typical hours to first contact, from history: what the predictive strategy
adds the queue to when it asks the scorer about a rep's expected response time."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from leadpilot.schema import Lead

__all__ = ["response_hours_of", "typical_response_hours"]


def typical_response_hours(
    history: pd.DataFrame, *, prior_weight: float = 20.0
) -> dict[str, float]:
    """Each rep's typical hours to first contact from history: the median of their
    ``time_to_contact_hours``, shrunk towards the team median with ``prior_weight`` pseudo-
    leads (a rep with few leads looks like the team). Empty when the columns are missing."""
    if not {"rep_id", "time_to_contact_hours"} <= set(history.columns):
        return {}
    known = history.dropna(subset=["rep_id", "time_to_contact_hours"])
    if known.empty:
        return {}
    team = float(known["time_to_contact_hours"].median())
    grouped = known.groupby("rep_id")["time_to_contact_hours"]
    med, n = grouped.median(), grouped.size()
    shrunk = (med * n + team * prior_weight) / (n + prior_weight)
    return {str(rep): float(v) for rep, v in shrunk.items()}


def response_hours_of(leads: Sequence[Lead], *, prior_weight: float = 20.0) -> dict[str, float]:
    """:func:`typical_response_hours` of past leads whose ``attributes`` hold ``rep_id`` and
    ``time_to_contact_hours`` (as ``leads_from_frame`` and the store keep them), in the
    order given."""
    rows = []
    for lead in leads:
        rep = lead.attributes.get("rep_id")
        hours = _hours(lead.attributes.get("time_to_contact_hours"))
        if isinstance(rep, str) and rep and hours is not None:
            rows.append((rep, hours))
    frame = pd.DataFrame(rows, columns=["rep_id", "time_to_contact_hours"])
    return typical_response_hours(frame, prior_weight=prior_weight)


def _hours(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(float(value)) else float(value)
