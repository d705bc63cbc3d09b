"""What a strategy gets and gives back (see :class:`leadpilot.policy.registry.Strategy`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from leadpilot.policy.eligibility import Checker
from leadpilot.policy.inputs import RouterInputs
from leadpilot.policy.policy_file import Pool
from leadpilot.policy.state import RoutingState
from leadpilot.schema import Lead, Rep

__all__ = ["Choice", "ChoiceContext", "Fallback", "one_rep"]


@dataclass(frozen=True, slots=True)
class ChoiceContext:
    """One lead's choice inside a pool: the eligible reps (roster order) and their ids, the
    pool's rotation credits, whether they are weighted, and the rest of the decision's
    inputs."""

    lead: Lead
    pool: Pool
    eligible: Sequence[Rep]
    ids: Sequence[str]
    credits: Mapping[str, float]
    weighted: bool
    inputs: RouterInputs
    state: RoutingState
    now: datetime
    checker: Checker
    # the eligible rep the pool's fallback strategy would pick (set by the router before the
    # main strategy chooses: the predictive strategy's confidence is measured against it)
    fallback_index: int | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """A strategy's answer: ``dist`` (shape ``(n_eligible,)``, sums to 1) is each eligible
    rep's probability of getting the lead (a fallback puts all of it on one rep); ``p``,
    ``price`` and ``confidence`` when a scorer was used; ``value`` (E(value | lead, rep))
    under a value objective; ``reason``: the reason code, ``note`` a second one (the
    objective: ``OBJECTIVE:pipeline_value`` or ``NO_VALUE_MODEL``); ``guard``: the fairness
    band's guard changed who may get the lead (reason ``FAIRNESS_GUARD``)."""

    dist: NDArray[np.float64]
    reason: str
    p: NDArray[np.float64] | None = None
    price: NDArray[np.float64] | None = None
    confidence: float | None = None
    value: NDArray[np.float64] | None = None
    note: str | None = None
    guard: bool = False


@dataclass(frozen=True, slots=True)
class Fallback:
    """The strategy declines (``reason``, e.g. ``LOW_CONFIDENCE_FALLBACK``): the pool's
    fallback decides; ``p``/``confidence`` are logged when a scorer was asked."""

    reason: str
    p: NDArray[np.float64] | None = None
    confidence: float | None = None


def one_rep(ctx: ChoiceContext, rep_id: str, reason: str) -> Choice:
    """A choice of exactly ``rep_id``."""
    dist = np.zeros(len(ctx.ids))
    dist[list(ctx.ids).index(rep_id)] = 1.0
    return Choice(dist, reason)
