"""A transparent :class:`~leadpilot.schema.Scorer` from a table of conversion rates by rep
and lead field value: for examples, tests, and teams that know their reps' rates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from leadpilot.schema import CandidateScores, ColumnScores, Lead

__all__ = ["TableScorer"]


class TableScorer:
    """``p(lead, rep) = rates[rep][lead.<field>]`` (``default`` when absent), lowered by
    ``decay_per_hour`` per expected hour of response time (speed-to-lead), and clipped to
    [0, 1]. ``confidence`` is fixed: this scorer is as sure as its table.

    >>> s = TableScorer({"ann": {"Retail": 0.3}}, field="industry", default=0.1)
    >>> float(s.score_candidates(Lead("l1", industry="Retail"), ["ann", "bob"]).p[1])
    0.1
    """

    def __init__(
        self,
        rates: Mapping[str, Mapping[str, float]],
        *,
        field: str = "industry",
        default: float = 0.1,
        decay_per_hour: float = 0.0,
        confidence: float = 1.0,
        version: str = "table-1",
    ) -> None:
        self.rates = {rep: dict(table) for rep, table in rates.items()}
        self.field = field
        self.default = default
        self.decay_per_hour = decay_per_hour
        self.confidence = confidence
        self._version = version

    @property
    def version(self) -> str:
        """The version logged with decisions."""
        return self._version

    def score_candidates(
        self,
        lead: Lead,
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDArray[np.float64] | None = None,
    ) -> CandidateScores:
        """P(convert) for each rep, shape ``(n_reps,)``."""
        key = lead.get(self.field)
        p = np.array(
            [self.rates.get(rep, {}).get(key, self.default) for rep in rep_ids], dtype=float
        )
        if expected_response_hours is not None and self.decay_per_hour:
            p = p - self.decay_per_hour * np.asarray(expected_response_hours, dtype=float)
        return CandidateScores(p=np.clip(p, 0.0, 1.0), confidence=self.confidence)

    def score_batch(
        self,
        leads: Sequence[Lead],
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDArray[np.float64] | None = None,
    ) -> ColumnScores:
        """Every lead x every rep (a rep's rate ignores the other candidates)."""
        rows = [
            self.score_candidates(lead, rep_ids, expected_response_hours=expected_response_hours).p
            for lead in leads
        ]
        p = np.vstack(rows) if rows else np.zeros((0, len(rep_ids)))
        return ColumnScores(p=p, confidence=self.confidence)
