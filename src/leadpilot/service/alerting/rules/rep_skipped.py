"""A rep record that cannot be routed to: its timezone or working hours cannot be read.

Intake raises the alert at once when it loads such a roster (``service.inputs``); this rule
keeps it while the record stays broken and resolves it when the rep is fixed or removed."""

from __future__ import annotations

from leadpilot.policy.alert_settings import AlertRuleSettings
from leadpilot.service.alerting.base import Finding, RuleContext
from leadpilot.service.inputs import skipped_rep_message, usable_reps

__all__ = ["RULE"]


class RepSkippedRule:
    """``rep_skipped:<rep>``."""

    kind = "rep_skipped"
    description = "a rep left out of routing because their calendar cannot be read"

    def evaluate(self, ctx: RuleContext, settings: AlertRuleSettings) -> list[Finding]:
        del settings
        _, skipped = usable_reps(ctx.roster)
        return [
            Finding(
                key=f"{self.kind}:{rep_id}",
                message=skipped_rep_message(rep_id, problem),
                details={"rep_id": rep_id, "problem": problem},
            )
            for rep_id, problem in sorted(skipped.items())
        ]


RULE = RepSkippedRule()
