"""Replaying history through candidate policies: the logged side of off-policy evaluation.

``logged_replay`` turns the replayed leads (settled outcomes) into the arrays the estimators
read: who the history assigned, whether it converted, how likely that assignment was (recorded
by leadpilot, or estimated by ``LoggingPolicyModel``), and the outcome model's P(convert) for
every rep. ``evaluate_decisions`` scores one policy's simulated decisions against it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from leadpilot.errors import DataValidationError
from leadpilot.evaluate.ope import (
    ESTIMATORS,
    Interval,
    LoggingPolicyModel,
    OverlapDiagnostics,
    ReplayData,
    clip_propensity,
    estimate_intervals,
    leads_for_precision,
    one_hot,
    overlap_diagnostics,
)
from leadpilot.evaluate.ope.data import NDF
from leadpilot.schema import Decision

__all__ = [
    "DEFAULT_CLIP",
    "LoggedReplay",
    "PairModel",
    "PolicyEvaluation",
    "cross_fitted_reward_matrix",
    "evaluate_decisions",
    "load_summary",
    "logged_replay",
    "moved",
    "reward_matrix",
]

DEFAULT_CLIP = 0.01
PRECISION_TARGET = 0.10  # the +-10% an estimate should resolve to be read as a number
RECORDED_COLUMNS = ("propensity", "x_propensity")  # leadpilot's decisions.csv / keep_extra


class PairModel(Protocol):
    """An outcome model that scores (lead, rep) pairs (``ConversionModel`` is one)."""

    def predict_proba(self, pairs: pd.DataFrame) -> NDF: ...


@dataclass(frozen=True)
class LoggedReplay:
    """The replayed leads and what the history did with them; arrays are ``(n_leads,)`` or
    ``(n_leads, n_reps)`` with columns in ``rep_ids`` order."""

    leads: pd.DataFrame
    rep_ids: tuple[str, ...]
    action: NDArray[np.int64]
    reward: NDF
    pscore: NDF
    logging_dist: NDF | None
    propensity_source: Literal["recorded", "estimated"]
    reward_model: NDF | None

    def data(self, decisions_rep: Sequence[str | None]) -> ReplayData:
        """The estimators' input for a deterministic candidate choosing ``decisions_rep``."""
        pos = {r: i for i, r in enumerate(self.rep_ids)}
        chosen = np.array([pos.get(r, -1) if r is not None else -1 for r in decisions_rep])
        return ReplayData(
            self.action, self.reward, self.pscore, one_hot(chosen, len(self.rep_ids)),
            self.reward_model,
        )  # fmt: skip


def reward_matrix(model: PairModel, leads: pd.DataFrame, rep_ids: Sequence[str]) -> NDF:
    """The model's P(convert) of every lead with every rep, shape ``(n_leads, n_reps)``, at
    each rep's usual response time (the history's own delays belong to the logged rep)."""
    n, k = len(leads), len(rep_ids)
    every_pair = getattr(model, "predict_proba_all", None)
    if every_pair is not None:  # ConversionModel: the same numbers without the pairs' frame
        return np.asarray(every_pair(leads, list(rep_ids)), dtype=np.float64).reshape(n, k)
    pairs = leads.loc[leads.index.repeat(k)].reset_index(drop=True)
    pairs["rep_id"] = np.tile(np.asarray(rep_ids, dtype=object), n)
    pairs = pairs.drop(columns=["time_to_contact_hours", "first_contact_at"], errors="ignore")
    return np.asarray(model.predict_proba(pairs), dtype=np.float64).reshape(n, k)


def cross_fitted_reward_matrix(
    fit: Callable[..., PairModel],
    leads: pd.DataFrame,
    earlier: pd.DataFrame,
    rep_ids: Sequence[str],
    *,
    folds: int = 2,
    share_choices: bool = False,
) -> NDF:
    """``reward_matrix`` from cross-fitted outcome models: the settled ``leads`` are split
    into ``folds`` (every ``folds``-th lead), and each fold is scored by ``fit(...)`` trained
    on ``earlier`` (the history before the leads) plus the other folds, never on the lead
    itself. The routing model is trained on earlier leads only; scoring its choices with
    that same model rewards its own errors (a rep it over-rates looks good twice), and a
    model that has seen nothing of the replayed period misses its drift.

    ``share_choices``: ``fit(frame, like)`` is also given the first fold's model (``None``
    for the first fold), whose out-of-time choices a later fold's fit may reuse (see
    ``ConversionModel.fit``'s ``like``): the folds' training rows differ only by which half
    of the replayed leads they hold."""
    if folds < 2:
        raise DataValidationError(f"folds={folds}: cross-fitting needs at least 2", hint="e.g. 2")
    out = np.zeros((len(leads), len(rep_ids)))
    fold = np.arange(len(leads)) % folds
    first: PairModel | None = None
    for f in range(folds):
        train = pd.concat([earlier, leads[fold != f]])
        model = fit(train, first) if share_choices else fit(train)
        first = first if first is not None else model
        out[fold == f] = reward_matrix(model, leads[fold == f], rep_ids)
    return out


def logged_replay(
    replay: pd.DataFrame,
    history: pd.DataFrame,
    rep_ids: Sequence[str],
    *,
    reward_model: NDF | None = None,
    clip: float = DEFAULT_CLIP,
    owners: pd.Series | None = None,
) -> LoggedReplay:
    """Build the logged side from ``replay`` (canonical leads with ``rep_id`` and a settled
    ``converted``) and ``history`` (all logged leads, to learn the assignment from when no
    propensity was recorded). ``rep_ids`` is the action space; ``owners`` (aligned with
    ``history``'s index) each lead's account owner, if known. Estimated propensities are
    clipped at ``clip``; recorded ones are used as they are."""
    if not 0 < clip < 1:
        raise DataValidationError(f"clip={clip} must lie in (0, 1)", hint="e.g. 0.01")
    if len(replay) == 0:
        raise DataValidationError(
            "no replayed lead has a settled outcome (converted yes/no)",
            hint="widen --from/--to, or wait until the window's outcomes are known",
        )
    reps = list(rep_ids)
    logged = replay["rep_id"].astype(object)
    unknown = sorted(set(logged.dropna().astype(str)) - set(reps))
    reps += unknown  # a rep who left still took the logged leads
    pos = {r: i for i, r in enumerate(reps)}
    action = np.array([pos.get(str(r), -1) if pd.notna(r) else -1 for r in logged])
    if (action < 0).any():
        raise DataValidationError(
            f"{int((action < 0).sum())} replayed lead(s) have no rep_id in the history",
            hint="off-policy estimates need the rep each past lead went to",
        )
    reward = np.asarray(replay["converted"].astype(float), dtype=np.float64)
    recorded = next((c for c in RECORDED_COLUMNS if c in replay), None)
    logging_dist = None
    if recorded is not None and replay[recorded].notna().all():
        pscore = pd.to_numeric(replay[recorded]).to_numpy(dtype=np.float64)
        source: Literal["recorded", "estimated"] = "recorded"
    else:
        frame = history if owners is None else history.assign(owner_rep_id=owners)
        model = LoggingPolicyModel().fit(frame)
        probe = replay if owners is None else replay.assign(owner_rep_id=owners.loc[replay.index])
        raw = model.predict_proba(probe)
        logging_dist = np.zeros((len(replay), len(reps)))
        for j, rep in enumerate(model.reps_):
            logging_dist[:, pos[rep]] = raw[:, j]
        pscore = clip_propensity(logging_dist[np.arange(len(replay)), action], clip)
        source = "estimated"
    if reward_model is not None and reward_model.shape[1] < len(reps):
        pad = np.zeros((len(replay), len(reps) - reward_model.shape[1]))
        reward_model = np.hstack([reward_model, pad])  # leavers: never chosen by a candidate
    return LoggedReplay(
        leads=replay.reset_index(drop=True),
        rep_ids=tuple(reps),
        action=action,
        reward=reward,
        pscore=pscore,
        logging_dist=logging_dist,
        propensity_source=source,
        reward_model=reward_model,
    )


@dataclass(frozen=True)
class PolicyEvaluation:
    """One policy's estimates on the replayed leads and how it used the team."""

    name: str
    n_leads: int
    estimates: dict[str, Interval]
    lift_vs_logged: dict[str, Interval]
    overlap: OverlapDiagnostics
    unassigned: int
    leads_per_rep: dict[str, int]
    fairness_range: tuple[float, float]
    peak_daily_load: dict[str, int]
    share_by_lane: dict[str, float]
    share_by_strategy: dict[str, float]
    lift_vs_baseline: dict[str, Interval] = field(default_factory=dict)
    sla_attainment: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types; ``estimates`` as ``{name: {rate, ci_low, ci_high}}``."""
        return {
            "name": self.name,
            "n_leads": self.n_leads,
            "estimates": {k: v.as_dict() for k, v in self.estimates.items()},
            "conversions": {
                k: {f: x * self.n_leads for f, x in v.as_dict().items()}
                for k, v in self.estimates.items()
            },
            "lift_vs_logged": {k: v.as_dict() for k, v in self.lift_vs_logged.items()},
            "lift_vs_round_robin": {k: v.as_dict() for k, v in self.lift_vs_baseline.items()},
            "precision": self.precision(),
            "overlap": self.overlap.as_dict(),
            "unassigned": self.unassigned,
            "leads_per_rep": self.leads_per_rep,
            "fairness_index_range": list(self.fairness_range),
            "peak_daily_load": self.peak_daily_load,
            "share_by_lane": self.share_by_lane,
            "share_by_strategy": self.share_by_strategy,
            "sla_attainment": self.sla_attainment,
        }

    def precision(self) -> dict[str, dict[str, Any]]:
        """Per estimate: its 95% interval's half-width relative to the estimate, whether that
        is within +-10%, and about how many replayed leads like these would make it so."""
        return {
            k: {
                "relative_half_width": v.relative_half_width,
                "resolves_10pct": v.relative_half_width <= PRECISION_TARGET,
                "leads_for_10pct": leads_for_precision(v, self.n_leads, PRECISION_TARGET),
            }
            for k, v in self.estimates.items()
        }


def evaluate_decisions(
    name: str,
    logged: LoggedReplay,
    decisions: Sequence[Decision],
    *,
    baseline: Sequence[Decision] | None = None,
    n_bootstrap: int = 500,
    seed: int = 0,
) -> PolicyEvaluation:
    """Every estimator's rate (expected conversions per replayed lead) with its interval, the
    lift over the logged outcomes (and over ``baseline``'s decisions, e.g. round-robin), the
    overlap verdict, and the policy's load on the team. ``decisions`` may cover more leads
    than ``logged`` (unsettled ones); only the replayed leads are estimated."""
    by_lead = {d.lead_id: d for d in decisions}
    ids = logged.leads["lead_id"].astype(str).tolist()
    missing = [i for i in ids if i not in by_lead]
    if missing:
        raise DataValidationError(
            f"{len(missing)} replayed lead(s) have no simulated decision (first {missing[0]})",
            hint="route every replayed lead through the policy",
        )
    data = logged.data([by_lead[i].rep_id for i in ids])
    base = None
    if baseline is not None:
        base_by = {d.lead_id: d for d in baseline}
        base = logged.data([base_by[i].rep_id for i in ids])
    usable = {
        k: cls() for k, cls in ESTIMATORS.items()
        if not (cls.needs_reward_model and logged.reward_model is None)
    }  # fmt: skip
    # One bootstrap pass for every estimate and both lifts (the same resamples as separate
    # estimate_interval / lift_interval calls with this seed).
    estimates, lifts, lifts_rr = estimate_intervals(
        usable, data, base, n_bootstrap=n_bootstrap, random_state=seed
    )
    return PolicyEvaluation(
        name=name,
        n_leads=logged.leads.shape[0],
        estimates=estimates,
        lift_vs_logged=lifts,
        lift_vs_baseline=lifts_rr,
        overlap=overlap_diagnostics(data, logged.logging_dist),
        **load_summary(decisions),
    )


def load_summary(decisions: Sequence[Decision]) -> dict[str, Any]:
    """Leads per rep, fairness index range (leads / average over reps who got any), peak
    leads per rep on one rep-local day, shares by lane and by strategy."""
    n = max(len(decisions), 1)
    per_rep = Counter(d.rep_id for d in decisions if d.rep_id is not None)
    counts = np.array(list(per_rep.values()), dtype=float)
    index = counts / counts.mean() if len(counts) else np.ones(1)
    days = Counter((d.rep_id, d.rep_local_day) for d in decisions if d.rep_id is not None)
    peak: dict[str, int] = {}
    for (rep, _day), k in days.items():
        peak[str(rep)] = max(peak.get(str(rep), 0), k)
    lanes = Counter(d.lane or "(none)" for d in decisions)
    strategies = Counter(d.strategy for d in decisions)
    return {
        "unassigned": sum(d.rep_id is None for d in decisions),
        "leads_per_rep": dict(sorted(per_rep.items())),
        "fairness_range": (float(index.min()), float(index.max())),
        "peak_daily_load": dict(sorted(peak.items())),
        "share_by_lane": {k: v / n for k, v in lanes.most_common()},
        "share_by_strategy": {k: v / n for k, v in strategies.most_common()},
    }


def moved(first: Sequence[Decision], other: Sequence[Decision], top: int = 5) -> dict[str, Any]:
    """How many leads ``other`` sends to a different rep than ``first``, and the most common
    (from, to) pairs."""
    a = {d.lead_id: d.rep_id for d in first}
    pairs = Counter((a.get(d.lead_id), d.rep_id) for d in other if a.get(d.lead_id) != d.rep_id)
    return {
        "leads": sum(pairs.values()),
        "top": [{"from": f, "to": t, "leads": k} for (f, t), k in pairs.most_common(top)],
    }
