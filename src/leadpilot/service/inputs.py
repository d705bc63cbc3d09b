"""What a routing decision needs, loaded from the store: policy, roster, accounts, state.

The active policy is parsed once per version and cached (the default policy, used while none
is uploaded, is built once); the roster is cached per roster version (bumped by every write to
reps or out-of-office ranges, in any process), without the reps whose timezone or working
hours cannot be read (an alert names each); accounts are matched by
``ingest.matching.AccountMatcher`` (domain, company key, fuzzy name), rebuilt every
``ACCOUNT_REFRESH`` seconds (they change only through ``leadpilot load``).

Shadow prices: the ``ShadowPricer`` learns the lead mix from the latest stored leads and is
rebuilt every ``PRICER_REFRESH`` seconds by the background worker (a request builds it only
when there is none yet). Its LP refreshes run in a one-process pool (``solver``), so requests
use the latest prices of their pool while a refresh is solved (see ``policy.pricing``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from leadpilot.errors import DataValidationError, LeadpilotError, StoreError
from leadpilot.ingest.matching import AccountMatch, AccountMatcher
from leadpilot.policy import (
    DemandModel,
    Policy,
    RouterInputs,
    ShadowPricer,
    default_policy,
    router_inputs,
)
from leadpilot.policy.assignment_lp import warm_up_solver
from leadpilot.policy.availability import check_availability
from leadpilot.policy.lead_history import LeadHistory
from leadpilot.policy.lock_scope import LockScope
from leadpilot.policy.policy_file import parse_policy_text
from leadpilot.policy.pricer import route_priced, solver_pool
from leadpilot.policy.registry import STRATEGIES
from leadpilot.policy.response_times import response_hours_of
from leadpilot.schema import Decision, Lead, Rep, Scorer, ValueModel
from leadpilot.store.accounts import list_accounts
from leadpilot.store.alerts import record_alert_once
from leadpilot.store.counters import DbRoutingState
from leadpilot.store.engine import in_write_transaction
from leadpilot.store.intake import IntakeReads, routing_versions
from leadpilot.store.leads import lead_from_fields, recent_leads
from leadpilot.store.policies import active_policy_version, get_policy_row
from leadpilot.store.reps import list_reps
from leadpilot.store.response_times import contact_times
from leadpilot.store.types import utcnow

_log = logging.getLogger(__name__)

__all__ = [
    "ACCOUNT_REFRESH",
    "LockPlan",
    "RoutingInputs",
    "Snapshot",
    "load_scorer",
    "load_value_model",
    "policy_from_text",
    "skipped_rep_message",
    "usable_reps",
]

ACCOUNT_REFRESH = 30.0  # seconds
PRICER_REFRESH = 900.0  # seconds
_DEMAND_LEADS = 3_000
# The service's demand sample is smaller than route-batch's 450: at 50 leads/s with 100 reps
# the 450-lead sample took the p99 of POST /v1/leads from ~25 ms to 60-90 ms on 2 cores
# (benchmarks/service_latency.py), while in route-batch it is worth about half a point of
# lift on its own.
_DEMAND_SAMPLE = 150
_PRIME_LEADS = 200  # demand-sample leads routed at most to price every predictive pool


def policy_from_text(text: str) -> Policy:
    """Parse and validate an uploaded policy's YAML text (``PolicyError`` names the key path)."""
    return parse_policy_text(text, source="the uploaded policy")


def load_scorer(model_dir: Path, *, force: bool = False) -> Scorer | None:
    """Load a trained conversion model folder (``leadpilot.model.ConversionModel``); ``None``
    (route by the policy's rules) when the model lost to a baseline on its own out-of-time
    test, unless ``force``."""
    from leadpilot.model import ConversionModel  # lazy: LightGBM only when a model is served

    model = ConversionModel.load(model_dir)
    block = model.fitted_.routing_block
    if block and not force:
        _log.warning(
            "model %s in %s is not used: %s; routing by the policy's rules "
            "(LEADPILOT_FORCE_MODEL=1 uses it anyway)",
            model.version,
            model_dir,
            block,
        )
        return None
    return model


def load_value_model(model_dir: Path) -> ValueModel | None:
    """The deal-value model saved beside the conversion model in ``model_dir`` (by
    ``leadpilot train`` / ``retrain`` when the history had deal values), or ``None``: a
    value objective then routes by conversions (``NO_VALUE_MODEL``)."""
    from leadpilot.model.value_artifacts import load_value

    return load_value(model_dir)


class _LastLeadMatcher:
    """``AccountMatcher.match`` memoised for the last lead asked about. An intake links the
    lead's account and then routes it (the ownership hold asks again); a lead with no
    account costs a fuzzy scan of every account name (~0.2 ms for 1,000 accounts), and both
    run under the routing lock."""

    def __init__(self, matcher: AccountMatcher) -> None:
        self._matcher = matcher
        self._last: tuple[Lead, AccountMatch | None] | None = None

    def match(self, lead: Lead) -> AccountMatch | None:
        """The lead's account match, or ``None``."""
        if self._last is None or self._last[0] is not lead:
            self._last = (lead, self._matcher.match(lead))
        return self._last[1]

    def adopt(self, other: _LastLeadMatcher) -> None:
        """Take ``other``'s last match (the same account index matched it)."""
        if other._matcher is self._matcher:
            self._last = other._last


@dataclass(frozen=True)
class LockPlan:
    """The pools an intake locks, worked out before the lock from what this process last
    routed with (``RoutingInputs.lock_plan``), and what it was worked out from."""

    pools: frozenset[str]
    scope: LockScope
    accounts: AccountMatcher
    matcher: _LastLeadMatcher


@dataclass
class Snapshot:
    """Inputs of decisions inside one transaction."""

    conn: sa.Connection
    policy: Policy
    reps: list[Rep]
    accounts: AccountMatcher
    scorer: Scorer | None
    pricer: ShadowPricer | None = None
    policy_version: str | None = None  # None: the default policy
    roster_version: int = 0
    response_hours: Mapping[str, float] | None = None
    value_model: ValueModel | None = None
    # Router inputs of earlier snapshots with the same policy, roster and models (see
    # ``RoutingInputs._base``): this snapshot's are a copy with its own account matcher.
    base: RouterInputs | None = None
    state: DbRoutingState = field(init=False)
    matcher: _LastLeadMatcher = field(init=False)
    inputs: RouterInputs = field(init=False)

    def __post_init__(self) -> None:
        self.state = DbRoutingState(self.conn)
        self.matcher = _LastLeadMatcher(self.accounts)
        if self.base is not None:
            self.inputs = dataclasses.replace(self.base, accounts=self.matcher)
            return
        # The same factory as route-batch's, so both decide alike on the same inputs.
        self.inputs = router_inputs(
            self.policy,
            self.reps,
            scorer=self.scorer,
            accounts=self.matcher,
            response_hours=self.response_hours,
            value_model=self.value_model,
        )

    def route(
        self,
        lead: Lead,
        *,
        now: datetime,
        rng: np.random.Generator,
        declined: frozenset[str] | LeadHistory,
    ) -> Decision:
        """The router's decision (not yet committed to the state), with the lead's pool's
        shadow prices refreshed first when due (in the solver process with background
        pricing: the pool's latest prices serve meanwhile). The same decision as
        ``refresh_prices`` then ``route``, with the roster screened once, not twice."""
        decision, self.inputs = route_priced(
            lead, self.inputs, self.state, now, rng, self.pricer, declined
        )
        return decision

    def link_account(self, lead: Lead) -> str | None:
        """The id of the lead's account, if one matches."""
        found = self.matcher.match(lead)
        return found.account.account_id if found else None

    @staticmethod
    def lead_of(row: Any) -> Lead:
        """The canonical lead of a stored row."""
        return lead_from_fields(row.fields)

    @property
    def max_reassignments(self) -> int:
        """How many times a lead may be reassigned automatically."""
        return self.policy.max_reassignments

    @property
    def notify_url(self) -> str | None:
        """Where reassignment notices go (Slack-compatible incoming webhook)."""
        return self.policy.notify_url

    def acceptance_minutes(self, pool: str | None) -> int | None:
        """The pool's acceptance window, if it requires acceptance."""
        for p in self.policy.pools:
            if p.name == pool:
                return p.accept_within_minutes
        return None


class RoutingInputs:
    """Loads snapshots; caches parsed policies and the account index across requests.

    ``background_pricing``: solve shadow-price refreshes in a separate process (started on
    first use) and let the worker rebuild a stale pricer, instead of on the request path.
    ``value_model``: the deal-value model served with ``scorer`` (value objectives)."""

    def __init__(
        self,
        *,
        scorer: Scorer | None,
        background_pricing: bool = False,
        value_model: ValueModel | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._clock = clock  # stamps the alerts a roster load raises
        # One tuple, swapped with one assignment: a snapshot sees both models of one version.
        self._models: tuple[Scorer | None, ValueModel | None] = (scorer, value_model)
        self.background_pricing = background_pricing
        self._policies: dict[str, Policy] = {}
        self._default_policy: Policy | None = None
        self._accounts: AccountMatcher | None = None
        self._accounts_at = 0.0
        self._roster: tuple[int, list[Rep]] | None = None
        self._unreported: dict[str, str] = {}  # skipped reps not yet alerted: rep -> why
        self._pricer: tuple[ShadowPricer | None, float] | None = None
        self._response_hours: Mapping[str, float] | None = None
        self._solver: Executor | None = None
        self._lock = threading.Lock()
        self._pricer_build = threading.Lock()
        self._window_days = 28
        # The last snapshot's router inputs and what they were built from (compared by
        # identity: policy, roster list, scorer, value model, response hours).
        self._router_base: tuple[tuple[object, ...], RouterInputs] | None = None
        self._scope: LockScope | None = None  # of the last policy and roster locked with

    @property
    def scorer(self) -> Scorer | None:
        """The conversion model routing uses (``None``: the policy's rules)."""
        return self._models[0]

    @scorer.setter
    def scorer(self, scorer: Scorer | None) -> None:
        """Route with ``scorer`` (and the same value model) from the next snapshot on."""
        self._models = (scorer, self._models[1])

    @property
    def value_model(self) -> ValueModel | None:
        """The deal-value model served with the scorer, if any."""
        return self._models[1]

    def policy(self, conn: sa.Connection, reps: Sequence[Rep]) -> Policy:
        """The active policy, or the default policy when none was uploaded."""
        return self._policy(conn, active_policy_version(conn), reps)

    def _policy(self, conn: sa.Connection, version: str | None, reps: Sequence[Rep]) -> Policy:
        if version is None:
            # Built once: it does not depend on the roster, and one instance keeps its
            # cached policy_hash (the pricer's cache key) across requests.
            if self._default_policy is None:
                self._default_policy = default_policy(reps)
            return self._default_policy
        with self._lock:
            cached = self._policies.get(version)
        if cached is None:
            # The requested version's own row: the active one may have moved since the
            # version was read, and caching it under this key would route (and log) leads
            # under the wrong version until restart.
            row = get_policy_row(conn, version)
            if row is None:
                raise StoreError(
                    f"policy version {version!r} is not stored",
                    hint="upload it again with POST /v1/policy",
                )
            cached = policy_from_text(row.text)
            with self._lock:
                self._policies[version] = cached
        return cached

    def roster(self, conn: sa.Connection, version: int) -> list[Rep]:
        """The reps with their availability; re-read only when the roster version moved
        (every write to reps or out-of-office ranges bumps it, in any process)."""
        with self._lock:
            cached = self._roster if self._roster and self._roster[0] == version else None
        if cached is None:
            reps, skipped = usable_reps(list_reps(conn))
            with self._lock:
                self._roster = cached = (version, reps)
                self._unreported = skipped
        if self._unreported and in_write_transaction(conn):
            with self._lock:
                skipped, self._unreported = self._unreported, {}
            for rep_id, problem in sorted(skipped.items()):
                # At once, not at the next alert pass; the rep_skipped rule resolves it.
                record_alert_once(
                    conn,
                    "rep_skipped",
                    skipped_rep_message(rep_id, problem),
                    key=f"rep_skipped:{rep_id}",
                    details={"rep_id": rep_id, "problem": problem, "roster_version": version},
                    now=self._clock(),
                )
        return cached[1]

    def accounts(self, conn: sa.Connection) -> AccountMatcher:
        """The account index, refreshed every ``ACCOUNT_REFRESH`` seconds."""
        with self._lock:
            if self._accounts is None or time.monotonic() - self._accounts_at > ACCOUNT_REFRESH:
                self._accounts = AccountMatcher(list_accounts(conn))
                self._accounts_at = time.monotonic()
            return self._accounts

    def pricer(self, conn: sa.Connection) -> ShadowPricer | None:
        """Shadow prices from the expected lead mix (the router's ``ShadowPricer``), built
        from the most recent stored leads and rebuilt every ``PRICER_REFRESH`` seconds; none
        without a scorer or without leads to learn the mix from. With background pricing a
        stale pricer keeps serving until the worker's ``maintain`` rebuilds it."""
        if self.scorer is None:
            return None
        with self._lock:
            current = self._pricer
        if current is not None and (
            self.background_pricing or time.monotonic() - current[1] < PRICER_REFRESH
        ):
            return current[0]
        return self._build_pricer(conn)

    def maintain(self, engine: sa.Engine, now: datetime) -> None:
        """Rebuild a stale pricer off the request path (the worker calls this each poll),
        primed at ``now`` before requests get it."""
        with self._lock:
            current = self._pricer
        if self.scorer is None or current is None:
            return
        if time.monotonic() - current[1] >= PRICER_REFRESH:
            with engine.connect() as conn:
                self._build_pricer(conn, prime_at=now)

    def _build_pricer(
        self, conn: sa.Connection, *, prime_at: datetime | None = None
    ) -> ShadowPricer | None:
        with self._pricer_build:  # one build at a time; the others use the result
            recent = recent_leads(conn, _DEMAND_LEADS)
            # Each rep's typical response time (history and the leads touched since),
            # refreshed with the pricer: the predictive strategy's queue-aware scores.
            response = response_hours_of(contact_times(conn)) or None
            with self._lock:
                self._response_hours = response
            pricer: ShadowPricer | None = None
            if recent:
                try:
                    demand = DemandModel.from_leads(recent, seed=0, sample_size=_DEMAND_SAMPLE)
                except LeadpilotError:
                    demand = None
                if demand is not None:
                    pricer = ShadowPricer(demand, solver=self._solver_pool())
                    with self._lock:
                        previous = self._pricer[0] if self._pricer is not None else None
                    if previous is not None:
                        pricer.adopt_latest(previous)
                    if prime_at is not None:
                        self._prime(conn, pricer, prime_at)
            with self._lock:
                self._pricer = (pricer, time.monotonic())
            return pricer

    def _solver_pool(self) -> Executor | None:
        """The one-process pool that solves price refreshes (None: solve inline)."""
        if not self.background_pricing:
            return None
        with self._lock:
            if self._solver is None:  # spawned, below the request threads' priority
                self._solver = solver_pool()
            return self._solver

    def _prime(self, conn: sa.Connection, pricer: ShadowPricer, now: datetime) -> None:
        """Route demand-sample leads with ``pricer`` (decisions thrown away, nothing written)
        until every predictive pool has been priced once. Why: a pricer's first prices of a
        pool build its eligibility mask, score the whole demand sample for every rep and,
        with no earlier prices, solve the LP inline: ~400 ms for 100 reps, which on the
        first request after start-up or a rebuild was held under the routing lock and
        queued every request behind it."""
        version, roster_version = routing_versions(conn)
        reps = self.roster(conn, roster_version)
        policy = self._policy(conn, version, reps)
        scorer, value_model = self._models
        snapshot = Snapshot(
            conn,
            policy,
            reps,
            self.accounts(conn),
            scorer,
            pricer,
            response_hours=self._response_hours,
            value_model=value_model,
        )
        snapshot.state.prefetch(now, window_days=_window_days(policy))
        todo = {p.name for p in policy.pools if STRATEGIES.get(p.strategy).priced}
        rng = np.random.default_rng(0)  # not the service's: its draws stay reproducible
        for lead in pricer.demand.sample[:_PRIME_LEADS]:
            if not todo:
                break
            try:
                decision = snapshot.route(lead, now=now, rng=rng, declined=frozenset())
            except LeadpilotError:
                continue
            todo.discard(decision.pool or "")

    def lock_plan(self, lead: Lead, now: datetime) -> LockPlan | None:
        """Before the routing lock: the pools routing ``lead`` at ``now`` needs by the policy,
        roster and accounts this process last routed with; ``None`` before its first
        snapshot (the caller then takes the exclusive lock)."""
        with self._lock:
            base, accounts = self._router_base, self._accounts
        if base is None or accounts is None:
            return None
        policy, reps = base[0][0], base[0][1]
        assert isinstance(policy, Policy)
        assert isinstance(reps, list)
        scope = self._lock_scope(policy, reps)
        matcher = _LastLeadMatcher(accounts)
        return LockPlan(scope.for_lead(lead, matcher, now), scope, accounts, matcher)

    def lock_needs(
        self, snapshot: Snapshot, lead: Lead, now: datetime, plan: LockPlan | None
    ) -> tuple[LockScope, frozenset[str]]:
        """Under the routing lock: the lock scope of ``snapshot`` (policy and roster read
        there) and the pools routing ``lead`` needs with it; ``plan``'s answer when it was
        worked out from the same policy, roster and accounts."""
        if (
            plan is not None
            and plan.scope.policy is snapshot.policy
            and plan.scope.reps is snapshot.reps
            and plan.accounts is snapshot.accounts
        ):
            snapshot.matcher.adopt(plan.matcher)
            return plan.scope, plan.pools
        scope = self._lock_scope(snapshot.policy, snapshot.reps)
        return scope, scope.for_lead(lead, snapshot.matcher, now)

    def _lock_scope(self, policy: Policy, reps: list[Rep]) -> LockScope:
        with self._lock:
            cached = self._scope
        if cached is not None and cached.policy is policy and cached.reps is reps:
            return cached
        scope = LockScope(policy, reps)
        with self._lock:
            self._scope = scope
        return scope

    def warm_up(self, engine: sa.Engine, now: datetime) -> None:
        """At app start-up: build the pricer (3,000 stored leads), price every predictive
        pool at ``now`` and start the solver process, so none of it lands on the first
        requests."""
        if self.scorer is None:
            return
        with engine.connect() as conn:
            with self._lock:
                built = self._pricer is not None
            if not built:
                self._build_pricer(conn, prime_at=now)
        solver = self._solver_pool()
        if solver is not None:
            solver.submit(warm_up_solver)

    def swap_scorer(
        self,
        scorer: Scorer | None,
        engine: sa.Engine,
        now: datetime,
        value_model: ValueModel | None = None,
    ) -> None:
        """Route with ``scorer`` and its ``value_model`` from the next snapshot on (one
        assignment: a decision sees the old models or the new ones, never a mix), then
        rebuild the pricer for them off the request path (requests keep the previous prices
        meanwhile)."""
        self._models = (scorer, value_model if scorer is not None else None)
        if scorer is None:
            with self._lock:
                self._pricer = None
            return
        with engine.connect() as conn:
            self._build_pricer(conn, prime_at=now)

    def close(self) -> None:
        """Stop the solver process (app shutdown)."""
        with self._lock:
            solver, self._solver = self._solver, None
        if solver is not None:
            solver.shutdown(wait=True, cancel_futures=True)

    def unreported(self) -> dict[str, str]:
        """Skipped reps not alerted yet (a transaction that alerts them hands them over)."""
        with self._lock:
            return dict(self._unreported)

    def restore_unreported(self, skipped: dict[str, str]) -> None:
        """Give back skipped reps a rolled-back transaction took to alert."""
        with self._lock:
            self._unreported = {**skipped, **self._unreported}

    def sample_lead(self) -> Lead | None:
        """A lead of the expected mix (the pricer's demand sample), if one was built."""
        with self._lock:
            current = self._pricer
        pricer = current[0] if current is not None else None
        sample = pricer.demand.sample if pricer is not None else []
        return sample[0] if len(sample) else None

    def refresh_accounts(self) -> None:
        """Reload accounts on next use."""
        with self._lock:
            self._accounts = None

    def load(self, conn: sa.Connection, now: datetime) -> Snapshot:
        """Everything a decision at ``now`` needs (two queries when nothing changed)."""
        version, roster_version = routing_versions(conn)
        snapshot = self._snapshot(conn, version, roster_version)
        snapshot.state.prefetch(now, window_days=_window_days(snapshot.policy))
        return snapshot

    def load_for_intake(self, conn: sa.Connection, reads: IntakeReads) -> Snapshot:
        """The snapshot of an intake from what ``store.intake.read_for_intake`` read (read
        with ``window_days``: a policy with longer fairness windows reads the rest when the
        router asks for it)."""
        snapshot = self._snapshot(conn, reads.policy_version, reads.roster_version)
        snapshot.state.adopt(reads.counters)
        return snapshot

    @property
    def window_days(self) -> int:
        """How many days of fairness windows to prefetch: those of the policy last used."""
        return self._window_days

    def _snapshot(self, conn: sa.Connection, version: str | None, roster_version: int) -> Snapshot:
        reps = self.roster(conn, roster_version)
        policy = self._policy(conn, version, reps)
        self._window_days = _window_days(policy)
        scorer, value_model = self._models
        pricer = self.pricer(conn)
        with self._lock:
            response = self._response_hours if scorer is not None else None
        made_of = (policy, reps, scorer, value_model, response)
        snapshot = Snapshot(
            conn,
            policy,
            reps,
            self.accounts(conn),
            scorer,
            pricer,
            policy_version=version,
            roster_version=roster_version,
            response_hours=response,
            value_model=value_model,
            base=self._base(made_of),
        )
        if snapshot.base is None:
            with self._lock:
                self._router_base = (made_of, snapshot.inputs)
        return snapshot

    def _base(self, made_of: tuple[object, ...]) -> RouterInputs | None:
        """The router inputs of the last snapshot when it was built from the same objects.
        Why: building them per request threw away the router's ``RosterMemo`` (each rep's
        caps and rule verdicts per lead profile), so every intake screened all reps from
        scratch; one memo per policy and roster version lets later leads reuse it."""
        with self._lock:
            cached = self._router_base
        if cached is None or len(cached[0]) != len(made_of):
            return None
        if all(a is b for a, b in zip(cached[0], made_of, strict=True)):
            return cached[1]
        return None


def skipped_rep_message(rep_id: str, problem: str) -> str:
    """The alert text of a rep left out of routing."""
    return f"rep {rep_id} is left out of routing until fixed: {problem}"


def usable_reps(reps: list[Rep]) -> tuple[list[Rep], dict[str, str]]:
    """The reps routing can use, and why each other one is left out. Why: one rep whose
    timezone or working hours cannot be read (written by an older version, by hand, or a
    zone the tz database dropped) must not stop routing for everyone else."""
    usable, skipped = [], {}
    for rep in reps:
        try:
            check_availability(rep)
        except DataValidationError as exc:
            skipped[rep.rep_id] = exc.message
            continue
        usable.append(rep)
    return usable, skipped


def _window_days(policy: Policy) -> int:
    return policy.fairness.window_days
