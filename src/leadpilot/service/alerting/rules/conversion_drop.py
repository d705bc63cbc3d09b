"""Conversion of the recent window significantly below the baseline window before it.

Both windows end ``lag_days`` ago so the recent leads had time to convert (a younger window
converts less only because it is younger). Each scope (every pool, and all pools together)
needs ``min_leads`` routed leads in each window; the one-sided Fisher exact test is run at
``alpha`` divided by the number of scopes tested (Bonferroni).
"""

from __future__ import annotations

from datetime import timedelta

from leadpilot.policy.alert_settings import ConversionDropSettings
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.service.alerting.stats import fisher_drop, wilson
from leadpilot.store.alert_reads import outcomes_by_pool

__all__ = ["RULE"]


def _totals(rows: list[tuple[str | None, int, int]]) -> dict[str, tuple[int, int]]:
    out = {(pool or "-"): (n, k) for pool, n, k in rows}
    out["all"] = (sum(n for _, n, _ in rows), sum(k for _, _, k in rows))
    return out


def _pct(k: int, n: int) -> str:
    low, high = wilson(k, n)
    return f"{k / n:.1%} ({k}/{n}, 95% CI {low:.1%}-{high:.1%})"


class ConversionDropRule:
    """``conversion_drop:<pool or all>``."""

    kind = "conversion_drop"
    description = "conversion in the recent window significantly below the baseline"

    def evaluate(self, ctx: RuleContext, settings: ConversionDropSettings) -> list[Finding]:
        recent_end = ctx.now - timedelta(days=settings.lag_days)
        recent_start = recent_end - timedelta(days=settings.recent_days)
        base_start = recent_start - timedelta(days=settings.baseline_days)
        recent = _totals(
            outcomes_by_pool(
                ctx.conn, since=recent_start, until=recent_end, outcome=settings.outcome
            )
        )
        base = _totals(
            outcomes_by_pool(
                ctx.conn, since=base_start, until=recent_start, outcome=settings.outcome
            )
        )
        scopes = [
            s
            for s in sorted(set(recent) & set(base))
            if min(recent[s][0], base[s][0]) >= settings.min_leads
        ]
        if not scopes:
            return []
        level = settings.alpha / len(scopes)
        out = []
        for scope in scopes:
            (n_r, k_r), (n_b, k_b) = recent[scope], base[scope]
            if k_r / n_r >= k_b / n_b:
                continue
            p = fisher_drop(k_r, n_r, k_b, n_b)
            if p >= level:
                continue
            where = "all pools" if scope == "all" else f"pool {scope}"
            out.append(
                Finding(
                    key=f"{self.kind}:{scope}",
                    message=(
                        f"{where}: conversion to {settings.outcome} {_pct(k_r, n_r)} in the "
                        f"{settings.recent_days} days to {recent_end:%Y-%m-%d} vs "
                        f"{_pct(k_b, n_b)} in the {settings.baseline_days} days before "
                        f"(one-sided Fisher exact p={p:.2g} < {level:.2g})"
                    ),
                    details={
                        "scope": scope,
                        "recent": {"leads": n_r, "converted": k_r},
                        "baseline": {"leads": n_b, "converted": k_b},
                        "p_value": p,
                        "level": level,
                    },
                )
            )
        return out


RULE = ConversionDropRule()
