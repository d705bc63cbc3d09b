"""``simulate``: replay a history's leads through candidate policies and estimate each one.

The leads of the replay window are routed in time order by each policy (capacity, fairness,
availability and holds as configured). With cross-fitting the window is cut into time blocks
and each block is routed and scored by a model trained only on the leads before it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.evaluate.replay import (
    DEFAULT_CLIP,
    PolicyEvaluation,
    cross_fitted_reward_matrix,
    evaluate_decisions,
    logged_replay,
    moved,
    reward_matrix,
)
from leadpilot.evaluate.sla import sla_attainment
from leadpilot.ingest import leads_from_frame
from leadpilot.policy.batch import BATCH_REFRESH_EVERY, SAMPLE_DAYS, route_batch
from leadpilot.policy.holds import AccountLookup
from leadpilot.policy.inputs import router_inputs
from leadpilot.policy.policy_file import Policy
from leadpilot.policy.registry import STRATEGIES
from leadpilot.policy.response_times import typical_response_hours
from leadpilot.schema import Decision, Rep

__all__ = ["Block", "SimulationResult", "run_simulation", "time_blocks"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Block:
    """Leads replayed with one model: ``replay`` rows of the history, ``model`` trained on
    leads before them (cross-fit) or given."""

    replay: pd.DataFrame
    model: Any


@dataclass
class SimulationResult:
    """Per-policy evaluations, decisions and what moved, plus facts about the replay."""

    policies: list[PolicyEvaluation]
    decisions: dict[str, list[Decision]]
    moved: dict[str, dict[str, Any]]
    replay: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON document ``simulate --json`` writes."""
        return {
            "replay": self.replay,
            "warnings": self.warnings,
            "policies": [
                {**p.as_dict(), "moved_vs_first": self.moved.get(p.name)} for p in self.policies
            ],
        }


def time_blocks(frame: pd.DataFrame, n_blocks: int) -> list[pd.DataFrame]:
    """``frame`` (sorted by ``created_at``) cut into ``n_blocks`` consecutive blocks of equal
    size."""
    if n_blocks < 2:
        raise ConfigError(
            f"--blocks {n_blocks}: cross-fitting needs at least 2 blocks",
            hint="e.g. --blocks 3 (the first trains, the others are replayed)",
        )
    cuts = np.linspace(0, len(frame), n_blocks + 1).round().astype(int)
    return [frame.iloc[a:b] for a, b in itertools.pairwise(cuts)]


def _same_policy(a: Policy, b: Policy) -> bool:
    return a is b or a.model_dump() == b.model_dump()


def reads_scores(policy: Policy) -> bool:
    """Whether any pool's strategy (or fallback) chooses by the model's scores. A policy
    that does not is routed without the scorer: the router then only skips recording each
    decision's P(convert) (the estimates read the outcome model, not the decisions') and
    the batch router skips scoring every lead and re-estimating the lead mix each day for
    prices nothing reads; the reps chosen are the same."""
    return any(
        STRATEGIES.get(name).needs_scorer
        for pool in policy.pools
        for name in (pool.strategy, pool.fallback)
    )


def _mix_tail(past: pd.DataFrame) -> pd.DataFrame:
    """The leads of ``past`` (sorted by ``created_at``) that the batch router's lead mix can
    read: those within ``SAMPLE_DAYS`` of the latest (and a day's margin)."""
    if past.empty:
        return past
    latest = past["created_at"].max()
    return past[past["created_at"] >= latest - pd.Timedelta(days=SAMPLE_DAYS + 2)]


def run_simulation(
    history: pd.DataFrame,
    blocks: Sequence[Block],
    policies: Sequence[tuple[str, Policy]],
    *,
    reps: Sequence[Rep],
    accounts: AccountLookup | None = None,
    owners: pd.Series | None = None,
    baseline: Policy | None = None,
    seed: int = 0,
    n_bootstrap: int = 500,
    clip: float = DEFAULT_CLIP,
    progress: Progress | None = None,
    refresh_every: int | None = BATCH_REFRESH_EVERY,
    outcome_folds: int = 0,
    outcome_fit: Callable[..., Any] | None = None,
    outcome_like: bool = False,
) -> SimulationResult:
    """Route each block's leads through every policy (and ``baseline``, e.g. round-robin,
    for the lift against it), then estimate every policy on the block's settled leads.
    ``history`` is every logged lead (canonical, sorted by ``created_at``). Leads are routed by
    the batch router with its price cadence ``refresh_every`` (``None``: the policy's).
    ``outcome_folds`` >= 2 scores the settled leads for the estimates with outcome models
    cross-fitted within each block (``outcome_fit`` trains one from a history frame), not
    with the block's routing model. ``outcome_like``: ``outcome_fit(frame, like)`` is also
    given the block's first fold's model, whose choices the later folds may reuse (see
    ``cross_fitted_reward_matrix``)."""
    say = progress or (lambda _msg: None)
    names = [n for n, _ in policies]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"two policies share a name: {names}", hint="rename one policy file or strategy"
        )
    arms = list(policies) + ([("__baseline__", baseline)] if baseline is not None else [])
    decisions: dict[str, list[Decision]] = {n: [] for n, _ in arms}
    settled_parts, reward_parts = [], []
    crossed = 0  # blocks whose settled leads were scored by cross-fitted outcome models
    rep_ids = [r.rep_id for r in reps]
    for b, block in enumerate(blocks):
        start = block.replay["created_at"].min()
        past = history[history["created_at"] < start]
        # Each rep's typical response hours read the whole past, straight from the frame;
        # the batch router's lead mix reads only the last SAMPLE_DAYS before its latest lead
        # (see ``route_batch``), so only that tail becomes Lead records (in the 60,000-lead
        # speed benchmark every past lead was ~24,000 records, 40% of all it converted).
        hours = typical_response_hours(past)
        past_leads = leads_from_frame(_mix_tail(past))
        leads = leads_from_frame(block.replay)
        routed: list[tuple[Policy, list[Decision]]] = []
        for name, policy in arms:
            # The same policy routes the same leads to the same reps (the router is
            # deterministic under the seed): the round-robin baseline next to a
            # `--strategy round_robin` arm is routed once.
            same = next((d for p, d in routed if _same_policy(p, policy)), None)
            if same is None:
                say(f"block {b + 1}/{len(blocks)}: routing {len(leads):,} leads with {name}")
                scorer = block.model if reads_scores(policy) else None
                inputs = router_inputs(
                    policy, reps, scorer=scorer, accounts=accounts, response_hours=hours
                )
                same = route_batch(
                    leads, inputs, history=past_leads, seed=seed, refresh_every=refresh_every
                )
                routed.append((policy, same))
            decisions[name] += same
        settled = block.replay[block.replay["converted"].notna() & block.replay["rep_id"].notna()]
        if len(settled):
            say(f"block {b + 1}/{len(blocks)}: scoring {len(settled):,} settled leads")
            settled_parts.append(settled)
            # A fold needs leads of its own: a block with fewer settled leads than folds is
            # scored by its routing model.
            if outcome_folds >= 2 and outcome_fit is not None and len(settled) >= outcome_folds:
                crossed += 1
                reward_parts.append(
                    cross_fitted_reward_matrix(
                        outcome_fit,
                        settled,
                        past,
                        rep_ids,
                        folds=outcome_folds,
                        share_choices=outcome_like,
                    )
                )
            else:
                reward_parts.append(reward_matrix(block.model, settled, rep_ids))
    if not settled_parts:
        raise DataValidationError(
            "no replayed lead has a settled outcome, so nothing can be estimated",
            hint="replay an older window (--from/--to) whose outcomes are known",
        )
    replay = pd.concat(settled_parts)
    say("estimating the logging propensities and the estimates")
    logged = logged_replay(
        replay, history, rep_ids, reward_model=np.vstack(reward_parts), clip=clip, owners=owners
    )
    base = decisions.get("__baseline__")
    evaluations = [
        replace(
            evaluate_decisions(
                name, logged, decisions[name], baseline=base, n_bootstrap=n_bootstrap, seed=seed
            ),
            sla_attainment=sla_attainment(decisions[name], history),
        )
        for name in names
    ]
    first = decisions[names[0]]
    moves = {n: moved(first, decisions[n]) for n in names[1:]}
    created = pd.concat([b.replay for b in blocks])["created_at"]
    facts = {
        "from": str(created.min()),
        "to": str(created.max()),
        "routed_leads": int(sum(len(b.replay) for b in blocks)),
        "settled_leads": len(replay),
        "blocks": len(blocks),
        "propensity_source": logged.propensity_source,
        "propensity_clip": clip if logged.propensity_source == "estimated" else None,
        "logged_rate": float(logged.reward.mean()),
        "baseline": "round_robin" if base is not None else None,
        "outcome_model": (
            f"cross-fitted in {outcome_folds} folds within each block"
            if crossed == len(settled_parts)
            else "the routing model of each block"
            if crossed == 0
            else f"cross-fitted in {outcome_folds} folds within {crossed} of "
            f"{len(settled_parts)} blocks (the others by their routing model)"
        ),
    }
    return SimulationResult(
        policies=evaluations,
        decisions={n: decisions[n] for n in names},
        moved=moves,
        replay=facts,
    )
