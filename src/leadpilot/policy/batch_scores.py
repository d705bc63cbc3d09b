"""Scores of a whole batch of leads served to the router one lead at a time.

:class:`PrecomputedScorer` wraps a scorer that can score a batch in one vectorised call
(``schema.BatchScorer``): the batch router scores a chunk of leads against the roster at
once, and ``route`` then asks this wrapper for each lead's candidates, which it answers from
the batch. It answers only what the batch holds exactly (the same lead object, reps of the
roster, the response hours the batch was scored at, i.e. no queue backlog); anything else
(a lead outside the batch, a rep outside the roster; a rep with a backlog under
``queue_aware`` unless the batch scores can re-score a moved pair themselves, as the
model's ``candidates_at`` does) goes to the wrapped scorer, so the decisions are those the
wrapped scorer would give.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from leadpilot.policy.policy_file import Policy
from leadpilot.schema import BatchScorer, BatchScores, CandidateScores, Lead, Rep, Scorer

__all__ = ["PrecomputedScorer", "batch_hours", "can_batch"]


def can_batch(scorer: Scorer | None) -> bool:
    """Whether ``scorer`` has a vectorised batch path (``score_batch``)."""
    return scorer is not None and isinstance(scorer, BatchScorer)


def batch_hours(
    reps: Sequence[Rep], policy: Policy, response_hours: Mapping[str, float] | None
) -> NDArray[np.float64] | None:
    """The response hours the router passes the scorer for each rep when no rep has a
    backlog (see ``strategies.predictive.expected_response_hours``): each rep's typical
    hours, the team median for unknown reps; ``None`` when the router passes none."""
    if not (policy.predictive.queue_aware and response_hours is not None):
        return None
    fallback = float(np.median(list(response_hours.values()))) if response_hours else 0.0
    # ``+ 0.0``: the live path adds ``backlog * per_lead``, which is 0.0 without a backlog.
    return np.array([response_hours.get(r.rep_id, fallback) + 0.0 for r in reps])


class PrecomputedScorer:
    """A :class:`~leadpilot.schema.Scorer` answering from a batch's scores (see the module
    docstring). ``leads``: the batch, in the order it was scored; ``rep_ids`` and ``hours``:
    the roster and response hours it was scored with."""

    def __init__(
        self,
        base: BatchScorer,
        leads: Sequence[Lead],
        rep_ids: Sequence[str],
        hours: NDArray[np.float64] | None,
    ) -> None:
        self.base = base
        self._leads = list(leads)  # keeps the objects alive: rows are keyed by identity
        self._rows = {id(lead): i for i, lead in enumerate(self._leads)}
        self._cols = {rep: j for j, rep in enumerate(rep_ids)}
        self._hours = hours
        self.scores: BatchScores = base.score_batch(
            self._leads, list(rep_ids), expected_response_hours=hours
        )
        self.hits = 0
        self.misses = 0

    @property
    def version(self) -> str:
        """The wrapped scorer's version (decisions log it)."""
        return self.base.version

    def score_batch(
        self,
        leads: Sequence[Lead],
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDArray[np.float64] | None = None,
    ) -> BatchScores:
        """The wrapped scorer's batch path (the shadow pricer scores its demand sample)."""
        return self.base.score_batch(
            leads, rep_ids, expected_response_hours=expected_response_hours
        )

    def score_candidates(
        self,
        lead: Lead,
        rep_ids: Sequence[str],
        *,
        expected_response_hours: NDArray[np.float64] | None = None,
    ) -> CandidateScores:
        """From the batch when it holds exactly this question, else the wrapped scorer."""
        row = self._rows.get(id(lead))
        if row is not None:
            get = self._cols.get
            cols = [get(r, -1) for r in rep_ids]
            if -1 not in cols:
                at = getattr(self.scores, "candidates_at", None)
                if at is not None:  # re-scores only the pairs whose hours moved
                    self.hits += 1
                    return at(row, cols, expected_response_hours)
                if self._same_hours(cols, expected_response_hours):
                    self.hits += 1
                    return self.scores.candidates(row, cols)
        self.misses += 1
        return self.base.score_candidates(
            lead, rep_ids, expected_response_hours=expected_response_hours
        )

    def columns(self, rep_ids: Sequence[str]) -> NDArray[np.int64]:
        """Each rep's column in the batch (-1: not in the roster it was scored with)."""
        get = self._cols.get
        return np.array([get(r, -1) for r in rep_ids], dtype=np.int64)

    def row_of(self, lead: Lead) -> int | None:
        """The lead's row in the batch (``None``: not in it)."""
        return self._rows.get(id(lead))

    def prime(self, wanted: Sequence[tuple[Lead, Sequence[str]]]) -> int:
        """Pre-score what answering ``score_candidates(lead, rep_ids)`` for each guessed
        ``(lead, rep_ids)`` of the batch would score one lead at a time (the model's
        average-rep row for a subset of the roster), in one vectorised call; the answers are
        unchanged (see ``ModelBatchScores.prime_averages``). Returns the rows scored."""
        prime = getattr(self.scores, "prime_averages", None)
        if prime is None:
            return 0
        get = self._cols.get
        rows = []
        for lead, rep_ids in wanted:
            row = self._rows.get(id(lead))
            cols = [get(r, -1) for r in rep_ids]
            if row is not None and rep_ids and -1 not in cols:
                rows.append((row, cols))
        return int(prime(rows))

    def _same_hours(self, cols: list[int], hours: NDArray[np.float64] | None) -> bool:
        if hours is None or self._hours is None:
            return hours is None and self._hours is None
        return bool(np.array_equal(np.asarray(hours, dtype=np.float64), self._hours[cols]))
