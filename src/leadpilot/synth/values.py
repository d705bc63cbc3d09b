"""The true deal values of a synthetic world, and the world's truth as a value model.

A converted lead's deal (the opportunity's amount) is drawn as::

    DEAL_SCALE * company_size ** DEAL_SIZE_EXPONENT * exp(value_effect[rep, segment])
    * LogNormal(0, DEAL_SIGMA)

rounded to hundreds. ``value_effect`` is empty in a default world (deal size follows the
company alone, so every rep is worth the same per conversion); ``deal_values="rep_segment"``
worlds (:func:`leadpilot.synth.generate_world`) give each rep a log-multiplier per company
segment (``SMB`` up to 200 employees, ``MidMarket`` up to 1000, ``Enterprise`` above), drawn
so that reps who convert more tend to close smaller deals: maximising conversions and
maximising pipeline value then disagree, as they do in real teams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from leadpilot.schema import Lead, ValueEstimates
from leadpilot.synth.truth import GroundTruth, RepTruth

__all__ = [
    "DEAL_SCALE",
    "DEAL_SIGMA",
    "DEAL_SIZE_EXPONENT",
    "SEGMENT_EDGES",
    "TrueValues",
    "assigned_value_effect",
    "draw_value_effects",
    "segment_codes",
    "true_deal_value",
]

DEAL_SCALE = 1500.0
DEAL_SIZE_EXPONENT = 0.45
DEAL_SIGMA = 0.5
# The default policy's segments by employee count (``policy_file.default_segments``).
SEGMENTS: tuple[str, ...] = ("SMB", "MidMarket", "Enterprise")
SEGMENT_EDGES = np.array([200.0, 1000.0])
VALUE_EFFECT_SD = 0.45
# Reps who convert more close smaller deals (log-multiplier per unit of conversion skill).
VALUE_PER_SKILL = -0.8


def segment_codes(size: NDArray[np.float64]) -> NDArray[np.intp]:
    """0 (SMB), 1 (MidMarket) or 2 (Enterprise) per company size; unknown sizes: SMB."""
    clean = np.nan_to_num(np.asarray(size, dtype=np.float64), nan=1.0)
    return np.searchsorted(SEGMENT_EDGES, clean, side="left").astype(np.intp)


def draw_value_effects(seed: int, reps: Sequence[RepTruth]) -> dict[str, dict[str, float]]:
    """Each rep's deal-size log-multiplier per segment, from its own random stream (so a
    world's other draws do not change), anti-correlated with conversion skill."""
    rng = np.random.default_rng([seed, 21])
    skill = np.array([rep.skill for rep in reps])
    centred = skill - skill.mean() if len(skill) else skill
    out: dict[str, dict[str, float]] = {}
    for r, rep in enumerate(reps):
        noise = rng.normal(0.0, VALUE_EFFECT_SD, len(SEGMENTS))
        out[rep.rep_id] = {
            seg: round(float(VALUE_PER_SKILL * centred[r] + noise[k]), 6)
            for k, seg in enumerate(SEGMENTS)
        }
    return out


def _effect_matrix(
    effects: Mapping[str, Mapping[str, float]], rep_ids: Sequence[str]
) -> NDArray[np.float64]:
    return np.array(
        [[effects.get(r, {}).get(seg, 0.0) for seg in SEGMENTS] for r in rep_ids], dtype=float
    ).reshape(len(rep_ids), len(SEGMENTS))


def true_deal_value(
    size: NDArray[np.float64],
    rep_ids: Sequence[str],
    effects: Mapping[str, Mapping[str, float]],
) -> NDArray[np.float64]:
    """E(deal | lead, rep) before rounding, shape ``(n_leads, n_reps)``, from each lead's
    company size (unknown: 100 employees)."""
    size = np.nan_to_num(np.asarray(size, dtype=np.float64), nan=100.0)
    base = DEAL_SCALE * np.maximum(size, 1.0) ** DEAL_SIZE_EXPONENT * np.exp(DEAL_SIGMA**2 / 2)
    eff = _effect_matrix(effects, rep_ids)  # (n_reps, n_segments)
    return base[:, None] * np.exp(eff[:, segment_codes(size)].T)


def assigned_value_effect(
    size: NDArray[np.float64], rep_ids: Sequence[str | None], truth: GroundTruth
) -> NDArray[np.float64]:
    """The deal-size log-multiplier of each lead with its own rep, shape ``(n_leads,)``
    (0 for no rep or an unknown one)."""
    seg = segment_codes(size)
    effects = truth.value_effects
    table = {r: [effects.get(r, {}).get(s, 0.0) for s in SEGMENTS] for r in truth.rep_ids}
    zero = [0.0] * len(SEGMENTS)
    pairs = zip(rep_ids, seg, strict=True)
    return np.array([table.get(r, zero)[k] if r is not None else 0.0 for r, k in pairs])


class TrueValues:
    """A synthetic world's truth as a :class:`~leadpilot.schema.ValueModel` (an oracle:
    the interval is the point). ``won_revenue`` multiplies the deal by the true
    P(win | opportunity, rep)."""

    def __init__(self, truth: GroundTruth) -> None:
        self.truth = truth

    @property
    def version(self) -> str:
        """Logged in the price cache key."""
        return "ground-truth-values"

    def value_batch(
        self, leads: Sequence[Lead], rep_ids: Sequence[str], objective: str
    ) -> NDArray[np.float64]:
        """E(value) of every lead with every rep."""
        frame = pd.DataFrame(
            {
                "company_size": [lead.company_size for lead in leads],
                "size_band": [lead.size_band for lead in leads],
            }
        )
        size = frame["company_size"].to_numpy(dtype=np.float64, na_value=np.nan)
        value = true_deal_value(size, rep_ids, self.truth.value_effects)
        if objective == "won_revenue":
            conv = self.truth.true_probability(frame, rep_ids, 0.0)
            won = self.truth.true_probability(frame, rep_ids, 0.0, target="closed_won")
            value = value * won / np.maximum(conv, 1e-12)
        return value

    def values(self, lead: Lead, rep_ids: Sequence[str], objective: str) -> ValueEstimates:
        """E(value) of ``lead`` with each rep (exact: ``low == mean == high``)."""
        mean = self.value_batch([lead], rep_ids, objective)[0]
        return ValueEstimates(mean=mean, low=mean, high=mean)

    def typical_value(self, objective: str) -> float:
        """E(deal) of a company of median size (100 employees) with no rep effect; for
        ``won_revenue`` times the average win rate at that size."""
        deal = float(true_deal_value(np.array([100.0]), ["-"], {})[0, 0])
        if objective == "won_revenue":
            frame = pd.DataFrame({"company_size": [100.0]})
            ids = list(self.truth.rep_ids)
            conv = self.truth.true_probability(frame, ids, 0.0)
            won = self.truth.true_probability(frame, ids, 0.0, target="closed_won")
            deal *= float(np.mean(won / conv))
        return deal
