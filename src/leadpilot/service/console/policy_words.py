"""A routing policy as sentences for the console's policy page: lanes, then pools, in the
order the router tries them."""

from __future__ import annotations

from leadpilot.policy.policy_file import Condition, Policy

__all__ = ["condition_words", "policy_words"]


def condition_words(c: Condition) -> str:
    """``region is EMEA``, ``company_size at least 1001``..."""
    if c.equals is not None:
        return f"{c.field} is {c.equals}"
    if c.in_ is not None:
        return f"{c.field} is one of {', '.join(map(str, c.in_))}"
    if c.not_in is not None:
        return f"{c.field} is none of {', '.join(map(str, c.not_in))}"
    if c.between is not None:
        return f"{c.field} between {c.between[0]:g} and {c.between[1]:g}"
    if c.at_least is not None:
        return f"{c.field} at least {c.at_least:g}"
    if c.at_most is not None:
        return f"{c.field} at most {c.at_most:g}"
    if c.contains_any is not None:
        return f"{c.field} contains any of {', '.join(c.contains_any)}"
    if c.is_set is not None:
        return f"{c.field} is {'set' if c.is_set else 'not set'}"
    return c.field


def _when(all_of: list[Condition], any_of: list[Condition]) -> str:
    parts = []
    if all_of:
        parts.append(" and ".join(condition_words(c) for c in all_of))
    if any_of:
        parts.append("any of: " + "; ".join(condition_words(c) for c in any_of))
    return "when " + ", and ".join(parts) if parts else "every other lead"


def policy_words(policy: Policy) -> dict[str, list[str]]:
    """``{"lanes": [...], "pools": [...], "limits": [...]}``, one sentence each."""
    lanes = []
    for lane in policy.lanes:
        what = (
            f"assigned, first touch due within {lane.sla_minutes} min ({lane.sla_clock} clock)"
            if lane.assign and lane.sla_minutes
            else "assigned, no SLA"
            if lane.assign
            else "not assigned to a rep"
        )
        extra = "; only reps available right now" if lane.require_available_now else ""
        lanes.append(f"{lane.name}: {_when(lane.when, lane.when_any)}: {what}{extra}.")
    pools = []
    for pool in policy.pools:
        members = []
        if pool.members:
            members.append("reps " + ", ".join(pool.members))
        if pool.member_pools:
            members.append("roster pool " + ", ".join(pool.member_pools))
        if pool.roles:
            members.append("role " + ", ".join(pool.roles))
        who = " or ".join(members) or "every active rep"
        text = (
            f"{pool.name}: {_when(pool.when, pool.when_any)}; members: {who}; "
            f"picked by {pool.strategy} (fallback {pool.fallback})"
        )
        if pool.overflow:
            text += f"; when nobody can take the lead, overflow to {', '.join(pool.overflow)}"
        if pool.accept_within_minutes:
            text += f"; the rep must accept within {pool.accept_within_minutes} min"
        pools.append(text + ".")
    limits = [f"At most {policy.max_reassignments} automatic reassignments per lead."]
    if policy.max_leads_per_day is not None:
        limits.append(f"Default cap: {policy.max_leads_per_day} leads per rep per day.")
    if policy.max_open_leads is not None:
        limits.append(f"Default cap: {policy.max_open_leads} open leads per rep.")
    return {"lanes": lanes, "pools": pools, "limits": limits}
