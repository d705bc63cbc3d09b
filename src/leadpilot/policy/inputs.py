"""Everything a routing decision reads besides the lead, the state, the time and the random
generator, as one frozen value: :class:`RouterInputs`, built by :func:`router_inputs` for
``route-batch``, the service, simulation and previews alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from leadpilot.policy.holds import AccountLookup
from leadpilot.policy.policy_file import Policy
from leadpilot.policy.response_times import response_hours_of
from leadpilot.policy.roster_memo import RosterMemo
from leadpilot.schema import Lead, Rep, Scorer, ValueModel

__all__ = ["PoolPrices", "RouterInputs", "router_inputs"]

# rep id -> shadow price of one more lead (in expected conversions)
PoolPrices = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class RouterInputs:
    """The inputs of ``route``: the policy, the roster, the scorer (``None``: rules only),
    the account matcher (ownership holds), the shadow prices per pool (a snapshot: pools
    without prices are priced by the fairness band alone) and each rep's typical hours to
    first contact (``None``: the scorer's own default; used when ``queue_aware``), and the
    value model a value ``objective`` multiplies P(convert) by (``None``: conversions only,
    see :mod:`leadpilot.policy.objective`).
    ``memo``: what the router remembers about this policy and roster across leads (see
    :mod:`leadpilot.policy.roster_memo`); not part of the value."""

    policy: Policy
    reps: tuple[Rep, ...]
    scorer: Scorer | None = None
    accounts: AccountLookup | None = None
    prices: Mapping[str, PoolPrices] = field(default_factory=lambda: MappingProxyType({}))
    response_hours: Mapping[str, float] | None = None
    value_model: ValueModel | None = None
    memo: RosterMemo | None = field(default=None, compare=False, repr=False)
    # per pool, the snapshot ``with_prices`` was handed and the read-only copy it put in
    # ``prices`` (a refreshed pool hands the same snapshot object to every decision)
    sources: Mapping[str, tuple[PoolPrices, PoolPrices]] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def roster_memo(self) -> RosterMemo | None:
        """The memo, when it was made for exactly this policy and roster."""
        memo = self.memo
        return memo if memo is not None and memo.serves(self.policy, self.reps) else None

    def with_prices(self, pool: str, prices: PoolPrices) -> RouterInputs:
        """A copy whose prices of ``pool`` are ``prices`` (these inputs when they are
        already: the snapshot object, and what is remembered per snapshot, stay). A
        snapshot is not changed once handed in (the pricer's never are): the one these
        inputs were made with is known by identity, without comparing its prices."""
        current = self.prices.get(pool)
        if current is None:
            pass
        elif current is prices:
            return self
        else:
            source = self.sources.get(pool)
            if (source is not None and source[0] is prices and source[1] is current) or (
                current == prices
            ):
                return self
        copy = MappingProxyType(dict(prices))
        merged = {**self.prices, pool: copy}
        return replace(
            self,
            prices=MappingProxyType(merged),
            sources=MappingProxyType({**self.sources, pool: (prices, copy)}),
        )

    def with_scorer(self, scorer: Scorer | None) -> RouterInputs:
        """A copy with another scorer of the same model (the batch router's precomputed
        scores); the prices stay."""
        return replace(self, scorer=scorer)

    def with_policy(self, policy: Policy) -> RouterInputs:
        """A copy under another policy (e.g. ``route-batch --strategy``)."""
        return replace(
            self, policy=policy, prices=MappingProxyType({}), memo=RosterMemo(policy, self.reps)
        )


def router_inputs(
    policy: Policy,
    reps: Sequence[Rep],
    *,
    scorer: Scorer | None = None,
    accounts: AccountLookup | None = None,
    history: Sequence[Lead] | None = None,
    response_hours: Mapping[str, float] | None = None,
    value_model: ValueModel | None = None,
) -> RouterInputs:
    """The one way to assemble router inputs. ``history``: past leads whose ``rep_id`` and
    ``time_to_contact_hours`` give each rep's typical response time (see
    :func:`leadpilot.policy.response_times.response_hours_of`); ``response_hours`` gives
    them directly instead. No history, or none with contact times: the scorer's default.
    ``value_model``: E(value | lead, rep) for a value ``objective`` of the policy."""
    hours = response_hours
    if hours is None and history is not None:
        hours = response_hours_of(history)
    roster = tuple(reps)
    return RouterInputs(
        policy=policy,
        reps=roster,
        memo=RosterMemo(policy, roster),
        scorer=scorer,
        accounts=accounts,
        response_hours=MappingProxyType(dict(hours)) if hours else None,
        value_model=value_model,
    )
