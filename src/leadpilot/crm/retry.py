"""When to try a failed CRM write again: exponential backoff with jitter, or the CRM's own
``Retry-After`` on a rate limit; and which failures are worth retrying at all."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["CrmCallError", "next_delay"]


@dataclass
class CrmCallError(Exception):
    """A CRM call failed. ``status``: the HTTP status (``None``: no answer); ``retry_after``:
    seconds the CRM asked to wait; ``message``: safe to store (no credentials)."""

    message: str
    status: int | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.message

    @property
    def permanent(self) -> bool:
        """A 4xx other than 408/409/429 will fail the same way again (bad id, no access)."""
        return (
            self.status is not None
            and 400 <= self.status < 500
            and self.status
            not in (
                408,
                409,
                429,
            )
        )


def next_delay(
    attempts: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds before attempt ``attempts + 1``: the CRM's ``Retry-After`` when it gave one,
    else "full jitter" backoff, uniform in [base*2^(n-1)/2, base*2^(n-1)], capped; the jitter
    keeps replicas that failed together from retrying together."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, cap)
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return (rng or random).uniform(ceiling / 2, ceiling)
