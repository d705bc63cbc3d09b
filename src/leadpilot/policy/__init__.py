"""Routing policy: the policy file, rules, strategies, shadow prices and the router core.

``route(lead, policy=..., reps=..., state=..., scorer=..., now=..., rng=...)`` decides;
``state.commit(decision)`` records. See ``leadpilot.policy.router``.
"""

from leadpilot.policy.policy_file import Policy, default_policy, load_policy, parse_policy
from leadpilot.policy.pricing import DemandModel, ShadowPricer
from leadpilot.policy.router import route, with_strategy
from leadpilot.policy.state import InMemoryState, RoutingState

__all__ = [
    "DemandModel",
    "InMemoryState",
    "Policy",
    "RoutingState",
    "ShadowPricer",
    "default_policy",
    "load_policy",
    "parse_policy",
    "route",
    "with_strategy",
]
