"""Helpers shared by the router tests."""

from __future__ import annotations

from leadpilot.policy import refresh_prices, route, router_inputs


def decide(
    lead,
    *,
    policy,
    reps,
    state,
    scorer=None,
    accounts=None,
    now,
    rng,  # type: ignore[no-untyped-def]
    declined=frozenset(),
    pricer=None,
    response_hours=None,
):
    """``route`` with the router inputs assembled from keywords (prices refreshed first)."""
    inputs = router_inputs(
        policy, reps, scorer=scorer, accounts=accounts, response_hours=response_hours
    )
    inputs = refresh_prices(lead, inputs, state, now, pricer, declined)
    return route(lead, inputs, state, now, rng, declined)
