"""``ReplayData``: what off-policy estimators read, validated once (``(n_leads, n_reps)``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from leadpilot.errors import DataValidationError

__all__ = ["ReplayData"]

NDF = NDArray[np.float64]


@dataclass(frozen=True)
class ReplayData:
    """Logged history and a candidate policy over the same leads and reps.

    ``action`` (n_leads,): position of the rep the history assigned; ``reward`` (n_leads,):
    the logged outcome (1 converted, 0 not); ``pscore`` (n_leads,): the logging policy's
    probability of the logged rep (exact, or estimated and clipped); ``action_dist``
    (n_leads, n_reps): the candidate policy's probability of each rep (a row may sum to
    less than 1: the rest is "nobody", which converts nothing); ``reward_model``
    (n_leads, n_reps): an outcome model's P(convert | lead, rep), or ``None`` (DM and DR
    need it).
    """

    action: NDArray[np.int64]
    reward: NDF
    pscore: NDF
    action_dist: NDF
    reward_model: NDF | None = None

    def __post_init__(self) -> None:
        n = len(self.action)
        if self.action_dist.ndim != 2 or self.action_dist.shape[0] != n:
            raise DataValidationError(
                f"action_dist has shape {self.action_dist.shape}, expected ({n}, n_reps)",
                hint="one row per logged lead, one column per rep",
            )
        n_reps = self.action_dist.shape[1]
        for name, arr in (("reward", self.reward), ("pscore", self.pscore)):
            if arr.shape != (n,):
                raise DataValidationError(
                    f"{name} has shape {arr.shape}, expected ({n},) like action",
                    hint="one value per logged lead",
                )
        if n == 0:
            raise DataValidationError("no logged leads to evaluate", hint="widen the window")
        if self.reward_model is not None and self.reward_model.shape != (n, n_reps):
            raise DataValidationError(
                f"reward_model has shape {self.reward_model.shape}, expected ({n}, {n_reps})",
                hint="one P(convert) per lead and rep, columns in action_dist's order",
            )
        if self.action.min() < 0 or self.action.max() >= n_reps:
            raise DataValidationError(
                f"action holds rep positions outside 0..{n_reps - 1}",
                hint="map every logged rep to a column of action_dist",
            )
        if not np.all((self.pscore > 0) & (self.pscore <= 1)):
            raise DataValidationError(
                "pscore must lie in (0, 1] (a logged choice had a chance to be made)",
                hint="clip estimated propensities, e.g. with clip_propensity",
            )
        if np.any(self.action_dist < 0) or np.any(self.action_dist.sum(axis=1) > 1 + 1e-9):
            raise DataValidationError(
                "each row of action_dist must be probabilities summing to at most 1",
                hint="one-hot rows for a deterministic policy; zeros for an unassigned lead",
            )
        if not np.all(np.isin(self.reward, (0.0, 1.0))) and not np.all(
            (self.reward >= 0) & (self.reward <= 1)
        ):
            raise DataValidationError(
                "reward must lie in [0, 1]", hint="use 1 for converted and 0 otherwise"
            )

    @property
    def n_leads(self) -> int:
        """Logged leads."""
        return len(self.action)

    @property
    def weights(self) -> NDF:
        """Importance weights pi(a_i | x_i) / pscore_i, shape ``(n_leads,)``."""
        chosen = self.action_dist[np.arange(self.n_leads), self.action]
        return np.asarray(chosen / self.pscore, dtype=np.float64)
