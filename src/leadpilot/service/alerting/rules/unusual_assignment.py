"""A rep receiving far more leads than forecast over the last ``window_hours``.

Forecast = the pool's leads in the window x the rep's share: the capacity share when every
active rep of the pool has a daily capacity; else the rep's share of the pool's leads over
the ``baseline_days`` before the window (add-one smoothed) when the pool had at least 20 then;
else an equal share. Alert when P(X >= observed) < ``alpha`` for X ~ Poisson(forecast) and
observed >= ``min_ratio`` x forecast and >= ``min_leads``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from leadpilot.policy.alert_settings import UnusualAssignmentSettings
from leadpilot.schema import Rep
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.service.alerting.stats import poisson_upper_tail
from leadpilot.store.kpi_reads import assignment_counts

__all__ = ["RULE", "forecast_shares"]

_MIN_HISTORY = 20


def forecast_shares(reps: list[Rep], history: dict[str, int]) -> tuple[dict[str, float], str]:
    """Each rep's expected share of the pool's leads, and how it was set."""
    caps = [r.max_leads_per_day for r in reps]
    if reps and all(c is not None and c > 0 for c in caps):
        total_cap = float(sum(c for c in caps if c is not None))
        return {r.rep_id: (r.max_leads_per_day or 0) / total_cap for r in reps}, "capacity"
    total = sum(history.get(r.rep_id, 0) for r in reps)
    if reps and total >= _MIN_HISTORY:
        return {
            r.rep_id: (history.get(r.rep_id, 0) + 1) / (total + len(reps)) for r in reps
        }, "history"
    return {r.rep_id: 1 / len(reps) for r in reps}, "equal"


def _by_pool(rows: list[tuple[str | None, str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for pool, rep_id, n in rows:
        if pool is not None:
            out[pool][rep_id] = n
    return out


class UnusualAssignmentRule:
    """``unusual_assignment:<pool>:<rep>``."""

    kind = "unusual_assignment"
    description = "a rep receiving far more leads than forecast"

    def evaluate(self, ctx: RuleContext, settings: UnusualAssignmentSettings) -> list[Finding]:
        start = ctx.now - timedelta(hours=settings.window_hours)
        now_counts = _by_pool(assignment_counts(ctx.conn, start, ctx.now, end_inclusive=True))
        before = _by_pool(
            assignment_counts(
                ctx.conn,
                start - timedelta(days=settings.baseline_days),
                start,
                end_inclusive=True,
            )
        )
        out = []
        for pool, reps in sorted(ctx.pool_members().items()):
            got = now_counts.get(pool, {})
            total = sum(got.values())
            if not reps or total == 0:
                continue
            shares, basis = forecast_shares(reps, before.get(pool, {}))
            for rep_id, share in sorted(shares.items()):
                observed, expected = got.get(rep_id, 0), total * share
                if observed < settings.min_leads or observed < settings.min_ratio * expected:
                    continue
                p = poisson_upper_tail(observed, expected)
                if p >= settings.alpha:
                    continue
                out.append(
                    Finding(
                        key=f"{self.kind}:{pool}:{rep_id}",
                        message=(
                            f"rep {rep_id} in pool {pool} got {observed} of the pool's {total} "
                            f"leads in the last {settings.window_hours} h; forecast "
                            f"{expected:.1f} ({basis} share {share:.1%}); Poisson "
                            f"P(X >= {observed}) = {p:.2g}"
                        ),
                        details={
                            "pool": pool,
                            "rep_id": rep_id,
                            "observed": observed,
                            "forecast": expected,
                            "basis": basis,
                            "p_value": p,
                        },
                    )
                )
        return out


RULE = UnusualAssignmentRule()
