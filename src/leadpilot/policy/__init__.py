"""Routing policy: the policy file, rules, strategies, shadow prices and the router core.

``inputs = router_inputs(policy, reps, scorer=...)`` assembles what a decision reads;
``route(lead, inputs, state, now, rng)`` decides; ``state.commit(decision)`` records.
Strategies and eligibility rules are registries (``leadpilot.policy.registry``). See
``leadpilot.policy.router``.
"""

from leadpilot.policy.demand import DemandModel
from leadpilot.policy.inputs import RouterInputs, router_inputs
from leadpilot.policy.policy_file import Policy, default_policy, load_policy, parse_policy
from leadpilot.policy.pricer import ShadowPricer, refresh_prices
from leadpilot.policy.router import route, with_strategy
from leadpilot.policy.state import InMemoryState, RoutingState

__all__ = [
    "DemandModel",
    "InMemoryState",
    "Policy",
    "RouterInputs",
    "RoutingState",
    "ShadowPricer",
    "default_policy",
    "load_policy",
    "parse_policy",
    "refresh_prices",
    "route",
    "router_inputs",
    "with_strategy",
]
