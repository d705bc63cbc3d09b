"""``policy check``: find the mistakes a valid policy can still hold against a roster (and,
when given, recent leads): empty pools, uncovered territories, rules that never fire,
capacity below the expected volume."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from leadpilot.policy.development import overbooked
from leadpilot.policy.eligibility import Checker, active_rules, capacity_of
from leadpilot.policy.holds import AccountLookup
from leadpilot.policy.lint_values import ValueCensus
from leadpilot.policy.policy_file import Condition, Policy, Pool
from leadpilot.policy.registry import RULES, STRATEGIES
from leadpilot.policy.router import lead_view, select_lane, select_pool
from leadpilot.policy.scoring import evaluate, matches, qualify
from leadpilot.policy.state import InMemoryState
from leadpilot.schema import Lead, Rep

__all__ = ["Finding", "lint_policy"]

Level = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: its severity, the policy key it concerns, and what to do."""

    level: Level
    path: str
    message: str


def _members(pool: Pool, reps: Sequence[Rep]) -> list[Rep]:
    return [r for r in reps if r.active and pool.includes(r)]


def lint_policy(
    policy: Policy,
    reps: Sequence[Rep],
    leads: Sequence[Lead] | None = None,
    *,
    accounts: AccountLookup | None = None,
) -> list[Finding]:
    """Check ``policy`` against the roster and, if given, recent ``leads`` (the expected mix).
    Errors make routing fail or drop leads; warnings are likely mistakes; infos are notes."""
    out: list[Finding] = []
    ids = {r.rep_id for r in reps}
    _roster_checks(policy, reps, ids, out)
    fallback = policy.fallback_owner
    if fallback is not None and fallback.rep is not None and fallback.rep not in ids:
        out.append(
            Finding(
                "error",
                "fallback_owner.rep",
                f"fallback owner {fallback.rep!r} is not in reps.csv: leads no pool can place "
                "would be left without an owner",
            )
        )
    _order_checks(policy, out)
    _development_checks(policy, reps, out)
    out.append(Finding("info", "targets", _targets_summary(policy)))
    if leads:
        _lead_checks(policy, reps, leads, accounts, out)
    else:
        out.append(
            Finding(
                "info",
                "",
                "no leads given: territory coverage, rules that never fire and capacity "
                "versus volume were checked only against the roster (pass --history)",
            )
        )
    return out


def _targets_summary(policy: Policy) -> str:
    """The weekly review's targets in words, each marked as set here or a default."""
    targets = policy.review_targets
    written = policy.targets.model_fields_set if policy.targets is not None else set()

    def tag(key: str) -> str:
        return "" if key in written else " (default)"

    alerts = policy.alert_settings
    return (
        f"weekly review targets: SLA attainment >= {100 * targets.sla_attainment:g}%"
        f"{tag('sla_attainment')}, median speed to first touch <= "
        f"{targets.speed_to_first_touch_minutes:g} min{tag('speed_to_first_touch_minutes')}, "
        f"reps outside the fairness band <= {targets.reps_outside_fairness_band}"
        f"{tag('reps_outside_fairness_band')}; reassignment rate <= "
        f"{100 * alerts.reassignment_rate.target:g}% and duplicate rate <= "
        f"{100 * alerts.duplicate_rate.target:g}% (alerts.<rule>.target)"
    )


def _development_checks(policy: Policy, reps: Sequence[Rep], out: list[Finding]) -> None:
    """Development shares naming unknown reps, or owing more than all the leads they count
    on (then no order of assignments holds them all: an error)."""
    ids = {r.rep_id for r in reps}
    for i, dev in enumerate(policy.development):
        for rep in dev.reps or []:
            if rep not in ids:
                out.append(
                    Finding(
                        "warning",
                        f"development[{i}].reps",
                        f"{rep!r} is not in reps.csv: its development share never applies",
                    )
                )
    for over in overbooked(policy, reps, datetime.now(UTC).date()):
        out.append(
            Finding(
                "error",
                "development",
                f"in pool {over.pool!r} the development shares of {', '.join(over.rules)} can "
                f"add up to {over.total:.0%} of the leads they count on "
                f"({', '.join(over.reps)}): no order of assignments can hold them all, so "
                "the router could not keep them exactly (lower min_share, or give the rules "
                "segments that do not overlap)",
            )
        )


def _roster_checks(policy: Policy, reps: Sequence[Rep], ids: set[str], out: list[Finding]) -> None:
    for i, pool in enumerate(policy.pools):
        path = f"pools[{i}]"
        members = _members(pool, reps)
        if not members:
            out.append(
                Finding(
                    "error",
                    path,
                    f"pool {pool.name!r} has no active rep (check members/member_pools/roles "
                    "against reps.csv)",
                )
            )
        for rep_id in pool.members or []:
            if rep_id not in ids:
                out.append(Finding("warning", f"{path}.members", f"unknown rep {rep_id!r}"))
        member_ids = {r.rep_id for r in members}
        for rep_id in pool.weights:
            if rep_id not in member_ids:
                out.append(
                    Finding(
                        "warning",
                        f"{path}.weights",
                        f"{rep_id!r} has a weight but is not an active member of the pool",
                    )
                )
        if any(STRATEGIES.get(name).weighted for name in (pool.strategy, pool.fallback)):
            unweighted = sorted(member_ids - set(pool.weights))
            if pool.weights and unweighted:
                out.append(
                    Finding(
                        "info",
                        f"{path}.weights",
                        f"{len(unweighted)} member(s) without a weight count as weight 1: "
                        + ", ".join(unweighted[:5]),
                    )
                )
        out.append(Finding("info", path, _pool_summary(pool)))
        for rule, setting in active_rules(pool):
            if rule.lint is None:
                continue
            for sub, message in rule.lint(policy, setting, members):
                out.append(
                    Finding(
                        "warning",
                        f"{path}.eligibility.{rule.key}{sub}",
                        f"{pool.name!r}: {message}",
                    )
                )
    for rep_id in policy.reps:
        if rep_id not in ids:
            out.append(Finding("warning", f"reps.{rep_id}", f"unknown rep {rep_id!r}"))
    for k, entry in enumerate(policy.availability.out_of_office):
        if entry.rep not in ids:
            out.append(
                Finding(
                    "warning",
                    f"availability.out_of_office[{k}].rep",
                    f"unknown rep {entry.rep!r}",
                )
            )
    uncapped = [
        r.rep_id for r in reps if r.active and capacity_of(r, policy).max_leads_per_day is None
    ]
    if uncapped:
        out.append(
            Finding(
                "info",
                "max_leads_per_day",
                f"{len(uncapped)} active rep(s) have no daily cap: " + ", ".join(uncapped[:5]),
            )
        )
    if policy.mode == "shadow" and (policy.predictive.explore or policy.predictive.holdout):
        out.append(
            Finding(
                "info",
                "mode",
                "shadow mode assigns by the fallback: explore/holdout only shape the "
                "recorded recommendation",
            )
        )
    predictive = policy.predictive
    if predictive.holdout_design == "switchback":
        if predictive.holdout in (0.0, 1.0):
            out.append(
                Finding(
                    "warning",
                    "predictive.holdout",
                    f"holdout_design is switchback but holdout is {predictive.holdout:g}: every "
                    "block is " + ("ON" if predictive.holdout == 0 else "OFF") + ", so there "
                    "is nothing to compare (give the share of blocks OFF, e.g. 0.5)",
                )
            )
        capped = any(capacity_of(r, policy).max_leads_per_day is not None for r in reps if r.active)
        if capped and predictive.switchback.block_minutes < 1440:
            out.append(
                Finding(
                    "warning",
                    "predictive.switchback.block_minutes",
                    f"switchback blocks of {predictive.switchback.block_minutes} minutes share "
                    "the reps' daily caps: an ON block can use up the best reps' day before an "
                    "OFF block, which biases the lift when caps bind (use 1440, a day)",
                )
            )


def _pool_summary(pool: Pool) -> str:
    """How the pool picks a rep and which eligibility rules it applies, in words (from the
    strategy and rule registries)."""
    main, fallback = STRATEGIES.get(pool.strategy), STRATEGIES.get(pool.fallback)
    rules = [f"{rule.key} ({rule.code})" for rule, _ in active_rules(pool)]
    return (
        f"pool {pool.name!r}: {main.name} ({main.explanation}), fallback {fallback.name} "
        f"({fallback.explanation}); eligibility rules: {', '.join(rules) or 'none'}"
    )


def _order_checks(policy: Policy, out: list[Finding]) -> None:
    """Entries after an unconditional one can never be reached."""
    for kind, entries in (("lanes", policy.lanes), ("pools", policy.pools)):
        catch_all = next((i for i, e in enumerate(entries) if e.unconditional), None)
        if catch_all is None:
            continue
        for i in range(catch_all + 1, len(entries)):
            name = entries[i].name
            out.append(
                Finding(
                    "warning",
                    f"{kind}[{i}]",
                    f"{name!r} comes after {entries[catch_all].name!r}, which matches every "
                    "lead: it never fires by its own rules (holds and exceptions may still "
                    "name a pool)",
                )
            )
    if not any(lane.unconditional for lane in policy.lanes):
        out.append(
            Finding(
                "info",
                "lanes",
                "no catch-all lane: leads matching no lane use an implicit 'standard' lane "
                "with no SLA",
            )
        )
    if not any(pool.unconditional for pool in policy.pools):
        out.append(
            Finding(
                "warning",
                "pools",
                "no catch-all pool: leads matching no pool get no rep (NO_POOL_MATCHES)",
            )
        )


def _lead_checks(
    policy: Policy,
    reps: Sequence[Rep],
    leads: Sequence[Lead],
    accounts: AccountLookup | None,
    out: list[Finding],
) -> None:
    lane_hits: Counter[str] = Counter()
    pool_hits: Counter[str] = Counter()
    exception_hits: Counter[str] = Counter()
    uncovered: dict[str, Counter[tuple[str, str]]] = {}  # pool -> (rule key, value)
    checker = Checker(
        policy=policy,
        state=InMemoryState(),
        now=datetime.now(UTC),  # rule checks do not depend on time
        lane=policy.lanes[0],
        declined=frozenset(),
    )
    cond_hits: Counter[str] = Counter()
    days = {lead.created_at.date() for lead in leads if lead.created_at is not None}
    paths = list(_conditions(policy))
    census = ValueCensus(paths)
    for lead in leads:
        view = lead_view(lead, policy)
        match = accounts.match(lead) if accounts is not None else None
        if match is not None:
            view.derived.update(
                account_id=match.account.account_id, account_tier=match.account.tier
            )
        qualify(view, policy)
        census.observe(view)
        for path, cond in paths:
            if evaluate(cond, view):
                cond_hits[path] += 1
        lane_hits[select_lane(view, policy).name] += 1
        for exc in policy.exceptions:
            if matches(exc.when, exc.when_any, view):
                exception_hits[exc.name] += 1
                break
        pool, _ = select_pool(view, policy)
        if pool is None:
            continue
        pool_hits[pool.name] += 1
        members = _members(pool, reps)
        if members:
            failed = [checker.failing_rule(rep, pool, view) for rep in members]
            if all(failed):
                # Name the rule that stops the reps who do cover the territory, if any.
                others = [r for r in failed if r and r.key != "territory"] or failed
                rule = Counter(others).most_common(1)[0][0]
                assert rule is not None
                value = str(rule.lead_value(view))
                uncovered.setdefault(pool.name, Counter())[(rule.key, value)] += 1
    n = len(leads)
    for i, lane in enumerate(policy.lanes):
        if lane_hits[lane.name] == 0 and not lane.unconditional:
            out.append(
                Finding("warning", f"lanes[{i}]", f"lane {lane.name!r} matched none of {n} leads")
            )
    for i, exc in enumerate(policy.exceptions):
        if exception_hits[exc.name] == 0:
            out.append(
                Finding(
                    "warning",
                    f"exceptions[{i}]",
                    f"exception {exc.name!r} matched none of {n} leads",
                )
            )
    for path, _cond in paths:
        if cond_hits[path] == 0:
            out.append(Finding("warning", path, f"this condition held for none of {n} leads"))
    out.extend(Finding("warning", path, message) for path, message in census.unseen())
    for i, pool in enumerate(policy.pools):
        if pool_hits[pool.name] == 0:
            out.append(
                Finding("warning", f"pools[{i}]", f"pool {pool.name!r} received none of {n} leads")
            )
        for (key, value), count in (uncovered.get(pool.name) or Counter()).most_common(5):
            territory = key == "territory"
            code = RULES.get(key).code
            what = f"territory {value!r}" if territory else f"{code} (e.g. {value!r})"
            out.append(
                Finding(
                    "error" if territory else "warning",
                    f"pools[{i}].eligibility.{key}",
                    f"{what}: {count} of {n} leads reach {pool.name!r} but no rep of it may "
                    "take them: they would get no rep",
                )
            )
        if days and pool_hits[pool.name]:
            per_day = pool_hits[pool.name] / len(days)
            caps = [capacity_of(r, policy).max_leads_per_day for r in _members(pool, reps)]
            if caps and all(c is not None for c in caps):
                total = sum(c for c in caps if c is not None)
                if total < per_day:
                    out.append(
                        Finding(
                            "warning",
                            f"pools[{i}]",
                            f"capacity {total} leads/day is below the expected volume "
                            f"{per_day:.1f}/day of {pool.name!r}: leads will queue",
                        )
                    )


def _conditions(policy: Policy) -> list[tuple[str, Condition]]:
    """Every condition of lanes, exceptions, pools and scoring, with its key path."""
    found: list[tuple[str, Condition]] = []
    for kind, entries in (
        ("lanes", policy.lanes),
        ("exceptions", policy.exceptions),
        ("pools", policy.pools),
    ):
        for i, entry in enumerate(entries):
            for key in ("when", "when_any"):
                for j, cond in enumerate(getattr(entry, key)):
                    found.append((f"{kind}[{i}].{key}[{j}]", cond))
    for key in ("fit", "intent"):
        for j, rule in enumerate(getattr(policy.scoring, key)):
            found.append((f"scoring.{key}[{j}]", rule))
    return found
