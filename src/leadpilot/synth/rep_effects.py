"""Rep-specific effects that are not additive: a rep's edge that depends on a numeric lead
attribute along a smooth curve, or on a combination of attributes, possibly only for part
of the history (skills that change).

One :class:`RepEffect` adds to the true log-odds of its rep::

    amplitude * [every `where` condition holds] * curve((x - centre) / width)

where ``x`` is ``log10(company_size)`` or ``engagement_score``, ``curve`` is a bump
(``exp(-z**2 / 2)``), a step (``tanh(z)``) or 1 (no numeric part), and the effect applies to
leads created in ``[since, until)`` (open ends: always). A lead with a missing attribute the
effect needs gets none of it. ``effect_matrix`` evaluates many effects on many leads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["CATEGORICAL_COLUMNS", "LeadColumns", "RepEffect", "effect_matrix", "lead_columns"]

CATEGORICAL_COLUMNS: tuple[str, ...] = ("source", "region", "industry", "size_band", "product")
NUMERIC_COLUMNS: tuple[str, ...] = ("company_size", "engagement_score")
CURVES: tuple[str, ...] = ("bump", "step")

# The columns an effect reads, as arrays of one length: object arrays for the categoricals,
# float64 for the numerics, datetime64[ns] (UTC, NaT when unknown) for "created_at".
LeadColumns = Mapping[str, NDArray[Any]]


@dataclass(frozen=True)
class RepEffect:
    """One rep-specific, non-additive term of the true log-odds (see the module docstring).

    ``label`` says it in words ("rep-07: +0.9 on Software leads from Referral")."""

    rep_id: str
    amplitude: float
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    column: str | None = None
    curve: str | None = None
    centre: float = 0.0
    width: float = 1.0
    since: str | None = None
    until: str | None = None
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (what ``truth.json`` holds under ``rep_effects``)."""
        return {
            "rep_id": self.rep_id,
            "amplitude": self.amplitude,
            "where": {k: list(v) for k, v in self.where.items()},
            "column": self.column,
            "curve": self.curve,
            "centre": self.centre,
            "width": self.width,
            "since": self.since,
            "until": self.until,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RepEffect:
        """Inverse of :meth:`to_dict`."""
        fields = dict(data)
        fields["where"] = {k: tuple(v) for k, v in fields.get("where", {}).items()}
        return cls(**fields)

    def values(self, cols: LeadColumns) -> NDArray[np.float64]:
        """This effect on each lead of ``cols`` (log-odds), shape ``(n_leads,)``."""
        n = len(cols["created_at"])
        out = np.full(n, self.amplitude, dtype=np.float64)
        for column, allowed in self.where.items():
            out *= np.isin(cols[column], np.array(allowed, dtype=object))
        if self.column is not None:
            x = np.asarray(cols[self.column], dtype=np.float64)
            if self.column == "company_size":
                x = np.log10(np.where(x >= 1, x, np.nan))
            z = (x - self.centre) / self.width
            shape = np.exp(-0.5 * z**2) if self.curve == "bump" else np.tanh(z)
            out *= np.nan_to_num(shape, nan=0.0)
        if self.since is not None or self.until is not None:
            t = cols["created_at"]
            # an unknown creation time is "now": after every change
            known = ~np.isnat(t)
            live = np.ones(n, dtype=bool)
            if self.since is not None:
                live &= ~known | (t >= np.datetime64(self.since, "ns"))
            if self.until is not None:
                live &= known & (t < np.datetime64(self.until, "ns"))
            out *= live
        return out


def effect_matrix(
    effects: Sequence[RepEffect], cols: LeadColumns, rep_ids: Sequence[str]
) -> NDArray[np.float64]:
    """The sum of the effects of each rep on each lead, shape ``(n_leads, len(rep_ids))``."""
    n = len(cols["created_at"])
    out = np.zeros((n, len(rep_ids)))
    where = {r: i for i, r in enumerate(rep_ids)}
    for effect in effects:
        j = where.get(effect.rep_id)
        if j is not None:
            out[:, j] += effect.values(cols)
    return out


def lead_columns(leads: pd.DataFrame, size_bands: pd.Series | None) -> dict[str, NDArray[Any]]:
    """The columns effects read, from a canonical leads frame (missing columns: unknown)."""
    n = len(leads)
    cols: dict[str, NDArray[Any]] = {}
    for c in CATEGORICAL_COLUMNS:
        series = size_bands if c == "size_band" else leads.get(c)
        cols[c] = (
            np.full(n, None, dtype=object)
            if series is None
            else series.astype(object).where(series.notna(), None).to_numpy(dtype=object)
        )
    for c in NUMERIC_COLUMNS:
        cols[c] = (
            leads[c].to_numpy(dtype=np.float64, na_value=np.nan)
            if c in leads
            else np.full(n, np.nan)
        )
    if "created_at" in leads:
        t = pd.to_datetime(leads["created_at"], utc=True).dt.tz_localize(None)
        cols["created_at"] = t.to_numpy(dtype="datetime64[ns]")
    else:
        cols["created_at"] = np.full(n, np.datetime64("NaT", "ns"))
    return cols
