"""A rep's fairness index (leads / pool average, as ``GET /v1/kpis`` computes it) outside the
band, and significantly so: the two-sided exact binomial test of the rep's count against an
equal share of the pool's leads, at ``alpha`` over the number of reps tested (Bonferroni).
An index out of band on a handful of leads is noise and raises nothing."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from leadpilot.policy.alert_settings import FairnessAlertSettings
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.service.alerting.stats import binomial_two_sided
from leadpilot.store.kpi_reads import assignment_counts

__all__ = ["RULE"]


class FairnessRule:
    """``fairness:<pool>:<rep>``."""

    kind = "fairness"
    description = "a rep's fairness index significantly outside the band"

    def evaluate(self, ctx: RuleContext, settings: FairnessAlertSettings) -> list[Finding]:
        band = settings.band or ctx.policy.fairness.band
        days = settings.window_days or ctx.policy.fairness.window_days
        members = {p: [r.rep_id for r in reps] for p, reps in ctx.pool_members().items()}
        counts: dict[str | None, dict[str, int]] = defaultdict(dict)
        for pool, rep_id, n in assignment_counts(
            ctx.conn, ctx.now - timedelta(days=days), ctx.now, end_inclusive=True
        ):
            counts[pool][rep_id] = n
        # as GET /v1/kpis counts them: the pool's active members (0 if they got nothing)
        # and whoever got its leads
        pools: dict[str | None, list[tuple[str, int]]] = {
            name: [
                (rep_id, counts.get(name, {}).get(rep_id, 0))
                for rep_id in sorted(set(members.get(name or "", ())) | set(counts.get(name, {})))
            ]
            for name in set(counts) | set(members)
        }
        tested = [
            (pool, reps)
            for pool, reps in pools.items()
            if pool is not None and sum(n for _, n in reps) >= settings.min_pool_leads
        ]
        level = settings.alpha / max(1, sum(len(reps) for _, reps in tested))
        out = []
        for pool, reps in tested:
            total, k = sum(n for _, n in reps), len(reps)
            for rep_id, n in reps:
                index = n / (total / k)
                if band[0] <= index <= band[1]:
                    continue
                p = binomial_two_sided(n, total, 1 / k)
                if p >= level:
                    continue
                out.append(
                    Finding(
                        key=f"{self.kind}:{pool}:{rep_id}",
                        message=(
                            f"rep {rep_id} in pool {pool}: fairness index {index:.2f} outside "
                            f"[{band[0]}, {band[1]}] over {days} days ({n} of {total} leads, "
                            f"fair share {total / k:.1f}; exact binomial p={p:.2g})"
                        ),
                        details={
                            "pool": pool,
                            "rep_id": rep_id,
                            "leads": n,
                            "pool_leads": total,
                            "reps": k,
                            "fairness_index": index,
                            "p_value": p,
                        },
                    )
                )
        return out


RULE = FairnessRule()
