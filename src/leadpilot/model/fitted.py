"""``FittedConversion``: everything a trained conversion model learned, as one plain record.

``training.train`` makes it, ``ConversionModel.fit`` keeps it (``fitted_``), ``artifacts``
saves and loads it, ``scoring`` computes probabilities from it. Nothing here trains or
scores; the record only knows its derived lookups and its content hash (the version id).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import lightgbm as lgb
import numpy as np

from leadpilot.model.calibration import Calibrator
from leadpilot.model.feature_state import NDI, FeatureState
from leadpilot.model.features import rep_dependent
from leadpilot.model.glm import GLMStack
from leadpilot.model.rep_trees import RepTrees

__all__ = ["FittedConversion", "content_version"]


def content_version(
    state: FeatureState,
    glm: GLMStack,
    boosters: Sequence[lgb.Booster | RepTrees],
    calibrator: Calibrator,
) -> str:
    """Hash of the trees, linear part, features and calibration: ``cm-`` + 12 hex digits.
    Every decision logs it, so two models that score alike share it and no others do."""
    h = hashlib.sha256()
    for b in boosters:
        h.update(b.model_to_string().encode())
    h.update(json.dumps(glm.to_json(), sort_keys=True).encode())
    h.update(json.dumps(state.to_json(), sort_keys=True, default=str).encode())
    h.update(json.dumps(calibrator.to_json(), sort_keys=True).encode())
    return "cm-" + h.hexdigest()[:12]


@dataclass(frozen=True, eq=False)
class FittedConversion:
    """A trained P(convert | lead, rep): the features it learned, the log-odds ensemble
    (``glm``: the full linear model and its half-sample bags; ``boosters``: trees boosted
    from the full model's log-odds, then the per-rep trees boosted from both), the
    calibration map, and the facts of its training.

    ``rep_prior_strength`` is part of the scoring function: a rep with ``n`` labelled leads
    gets weight ``n / (n + rep_prior_strength)`` against an average rep.
    """

    state: FeatureState
    glm: GLMStack
    boosters: tuple[lgb.Booster | RepTrees, ...]
    calibrator: Calibrator
    rep_prior_strength: float
    glm_c: float  # the ridge strength chosen out of time
    n_rounds: int  # trees kept by early stopping
    training_window: dict[str, Any]  # rows and time bounds of the train / calibration / test
    version: str  # content_version(...) of the parts above
    dropped_columns: list[dict[str, Any]] = field(default_factory=list)  # leaky columns
    warnings: list[str] = field(default_factory=list)
    # every training guard's verdict ({"guard", "verdict", "detail"}), and after evaluation
    # the baseline check; the model card lists them
    guards: list[dict[str, Any]] = field(default_factory=list)
    importance: list[dict[str, Any]] = field(default_factory=list)  # {"feature", "share"}
    # what the rep-aware trees found (rep_trees.found_effects, found_combinations and
    # found_changes: entries with "kind" "combination" / "change"), for the model card
    rep_effects: list[dict[str, Any]] = field(default_factory=list)
    # rounds of each rep's trees chosen out of time (0: none); with ``n_rounds``, ``glm_c``
    # and the clock (``RepTrees.now``) what ``training.train_like`` reuses (not saved)
    rep_rounds: int = 0

    @property
    def routing_block(self) -> str | None:
        """Why this model must not route (it lost to a baseline on its own out-of-time test),
        or ``None``; the router falls back to rules for it unless forced."""
        for g in self.guards:
            if g.get("blocks_routing"):
                return str(g["detail"])
        return None

    @property
    def feature_names(self) -> list[str]:
        """Model input columns, in matrix order."""
        return self.state.feature_names

    @cached_property
    def positions(self) -> dict[str, int]:
        """Column index of each input in the feature matrix."""
        return {n: i for i, n in enumerate(self.feature_names)}

    @cached_property
    def rep_columns(self) -> NDI:
        """Indices of the rep-dependent inputs (unknown for an "average rep")."""
        return np.array(
            [i for i, n in enumerate(self.feature_names) if rep_dependent(n)], dtype=np.int64
        )
