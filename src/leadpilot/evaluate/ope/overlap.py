"""Overlap diagnostics: can the logged history tell us about the candidate's choices?

Weighting estimators (IPS, SNIPS, DR) learn about a candidate's choice of rep for a lead only
from past leads like it that went to that rep. When the history rarely made the candidate's
choices, a few leads carry huge weights and the estimate is noise; the verdict says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from leadpilot.evaluate.ope.data import NDF, ReplayData

__all__ = ["OVERLAP_THRESHOLDS", "OverlapDiagnostics", "overlap_diagnostics"]

Verdict = Literal["good", "weak", "poor"]

# (ESS below, unsupported share above) for each verdict. An ESS of 100 leads at a 15% rate
# leaves a relative standard error near 30%; at 400, 15%. Unsupported mass is extrapolation
# that no weighting can correct.
OVERLAP_THRESHOLDS: dict[str, tuple[float, float]] = {"poor": (100.0, 0.10), "weak": (400.0, 0.02)}
NEAR_ZERO = 0.005  # a logging probability below this counts as "the history never did it"


@dataclass(frozen=True)
class OverlapDiagnostics:
    """How well the history covers the candidate policy.

    ``ess``: effective sample size of the importance weights, (sum w)^2 / sum w^2 (Kish);
    ``matched``: leads whose logged rep the candidate would also pick (weight > 0);
    ``unsupported_share``: share of the candidate's assignments where the history's
    probability of that rep was below ``near_zero`` (or that rep never got such a lead);
    ``max_weights``: the five largest weights; ``top1pct_weight_share``: share of the total
    weight held by the heaviest 1% of leads; ``verdict``: good / weak / poor, with
    ``reasons``.
    """

    n_leads: int
    ess: float
    matched: int
    unsupported_share: float
    max_weights: tuple[float, ...]
    top1pct_weight_share: float
    verdict: Verdict
    reasons: tuple[str, ...]

    @property
    def reliable(self) -> bool:
        """False when the weighting estimates should not be read as numbers."""
        return self.verdict != "poor"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        out = asdict(self)
        out["max_weights"] = list(self.max_weights)
        out["reasons"] = list(self.reasons)
        out["reliable"] = self.reliable
        return out


def overlap_diagnostics(
    data: ReplayData,
    logging_dist: NDF | None = None,
    *,
    seen: NDArray[np.bool_] | None = None,
    near_zero: float = NEAR_ZERO,
) -> OverlapDiagnostics:
    """Diagnose ``data``'s weights. ``logging_dist`` (n_leads, n_reps): the logging policy's
    (unclipped) probability of every rep for every lead, to find the candidate's choices the
    history (almost) never made; ``seen`` (n_leads, n_reps): whether the history ever gave
    that rep a lead of the same segment. Without either, only the weights are judged."""
    w = data.weights
    total = float(w.sum())
    ess = total**2 / float((w**2).sum()) if total > 0 else 0.0
    mass = data.action_dist.sum()
    unsupported = np.zeros(data.action_dist.shape, dtype=bool)
    if logging_dist is not None:
        unsupported |= logging_dist < near_zero
    if seen is not None:
        unsupported |= ~seen
    share = float((data.action_dist * unsupported).sum() / mass) if mass > 0 else 0.0
    heavy = np.sort(w)[::-1]
    k = max(1, int(np.ceil(0.01 * len(w))))
    top_share = float(heavy[:k].sum() / total) if total > 0 else 1.0
    verdict, reasons = _verdict(ess, share)
    return OverlapDiagnostics(
        n_leads=data.n_leads,
        ess=ess,
        matched=int((w > 0).sum()),
        unsupported_share=share,
        max_weights=tuple(float(x) for x in heavy[:5]),
        top1pct_weight_share=top_share,
        verdict=verdict,
        reasons=reasons,
    )


def _verdict(ess: float, unsupported: float) -> tuple[Verdict, tuple[str, ...]]:
    for level in ("poor", "weak"):
        min_ess, max_unsupported = OVERLAP_THRESHOLDS[level]
        reasons = []
        if ess < min_ess:
            reasons.append(
                f"effective sample size {ess:.0f} < {min_ess:.0f}: the history rarely made "
                "the candidate's choices"
            )
        if unsupported > max_unsupported:
            reasons.append(
                f"{unsupported:.0%} of the candidate's assignments are ones the history "
                f"(almost) never made (> {max_unsupported:.0%})"
            )
        if reasons:
            return ("poor" if level == "poor" else "weak"), tuple(reasons)
    return "good", ()
