"""The expected lead mix: a sample of recent leads, the hour-of-day arrival profile and the
recent level of leads per day (updated by today's arrivals), for the shadow-price LP.

How many leads are still to come today: the recent level (leads per typical day: days with at
least ``QUIET_DAY_SHARE`` of the median day, so a weekend with a few off-hours leads does not
pass for Monday's volume) times the share of the day's arrival profile still ahead, updated by
the pool's arrivals so far today (:meth:`DemandModel.rest_of_day`): a busy or quiet day is
recognised within hours. The later days of the fairness window are estimated from the leads
already in the window (:func:`later_window_days`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from hashlib import blake2b

import numpy as np
from numpy.typing import NDArray

from leadpilot.errors import DataValidationError
from leadpilot.schema import Lead

__all__ = ["LEVEL_PRIOR_DAYS", "QUIET_DAY_SHARE", "DemandModel", "later_window_days"]

# A day with fewer leads than this share of the median day is not a typical day for the level.
QUIET_DAY_SHARE = 0.25
# Weight of the recent level against today's arrivals, in days of arrivals (see rest_of_day).
LEVEL_PRIOR_DAYS = 0.25
# Typical days the fairness guard's level of the window's later days averages (a week).
WEEK_LEVEL_DAYS = 5


@dataclass(frozen=True, slots=True)
class DemandModel:
    """The expected lead mix: a sample of recent leads, the share of a day's leads that
    arrives in each UTC hour (``hour_share``, shape ``(24,)``, sums to 1) and the recent
    level of leads per day (over days that had leads: weekends without leads don't dilute)."""

    sample: tuple[Lead, ...]
    hour_share: NDArray[np.float64]
    leads_per_day: float
    active_day_share: float = 1.0  # share of calendar days that are typical (lead) days
    # The sample is in rank order (``stable`` sampling): any prefix is itself a uniform sample.
    ranked: bool = False
    # The fairness guard's levels (see ``policy.fairness.band_guard``): leads per typical day
    # over the last ``WEEK_LEVEL_DAYS`` typical days (no weekday pattern), and the most of
    # the last ``level_days`` typical days (the busier projection).
    week_level: float = 0.0
    busy_level: float = 0.0

    @classmethod
    def from_leads(
        cls,
        leads: Sequence[Lead],
        *,
        sample_days: int = 28,
        level_days: int = 2,
        sample_size: int = 450,
        seed: int = 0,
        stable: bool = False,
    ) -> DemandModel:
        """Estimate from past leads (only their ``created_at`` and fields are used): the
        sample from the last ``sample_days``, the level from the last ``level_days`` days
        that had leads.

        ``stable``: the sample is the ``sample_size`` leads of the window with the smallest
        hash of (``seed``, lead id), in that order (bottom-k sampling: as uniform as a random
        draw), so the next day's sample keeps every lead still in the window and ranked in
        it and the shadow-price LP re-solves warm (see :mod:`leadpilot.policy.warm_lp`);
        otherwise a random draw under ``seed``, in time order."""
        stamped = sorted(
            (lead for lead in leads if lead.created_at is not None),
            key=lambda lead: lead.created_at,  # type: ignore[arg-type,return-value]
        )
        if not stamped:
            raise DataValidationError(
                "cannot estimate the expected lead mix: no lead has a created_at time",
                hint="Give recent history with created_at, or route without shadow prices.",
            )
        last = stamped[-1].created_at
        assert last is not None
        recent = [
            x for x in stamped if x.created_at and x.created_at > last - timedelta(sample_days)
        ]
        counts = np.zeros(24)
        per_day: dict[object, int] = {}
        for lead in recent:
            assert lead.created_at is not None
            counts[lead.created_at.hour] += 1
            day = lead.created_at.date()
            per_day[day] = per_day.get(day, 0) + 1
        # The level comes from typical days: a day with under ``QUIET_DAY_SHARE`` of the median
        # day (a weekend or holiday with a few off-hours leads) would otherwise pass for the
        # volume of the next business day.
        floor = QUIET_DAY_SHARE * float(np.median(list(per_day.values())))
        typical = [d for d in sorted(per_day) if per_day[d] >= floor]  # type: ignore[type-var]
        levels = [per_day[d] for d in typical[-level_days:]]
        if stable:
            rank = np.array([_rank(seed, lead.lead_id) for lead in recent], dtype=np.uint64)
            order = np.argsort(rank, kind="stable")  # ties (a repeated id): time order
            pick = order[:sample_size]
        else:
            rng = np.random.default_rng(seed)
            pick = (
                np.sort(rng.choice(len(recent), size=sample_size, replace=False))
                if len(recent) > sample_size
                else np.arange(len(recent))
            )
        span = max(1, min(sample_days, (last.date() - recent[0].created_at.date()).days + 1))  # type: ignore[union-attr]
        return cls(
            tuple(recent[i] for i in pick),
            counts / counts.sum(),
            float(np.mean(levels)),
            min(1.0, len(typical) / span),
            ranked=stable,
            week_level=float(np.mean([per_day[d] for d in typical[-WEEK_LEVEL_DAYS:]])),
            busy_level=float(np.max(levels)),
        )

    def expected_arrivals(self, start: datetime, hours: float) -> float:
        """Expected number of leads arriving in ``[start, start + hours)``."""
        return self.day_fraction(start, hours) * self.leads_per_day

    def day_fraction(self, start: datetime, hours: float) -> float:
        """Share of a day's leads expected in ``[start, start + hours)`` (by the hour profile)."""
        total, t, left = 0.0, start, hours
        while left > 1e-9:
            step = min(left, 1.0 - (t.minute * 60 + t.second) / 3600.0)
            total += self.hour_share[t.hour] * step
            t = t + timedelta(hours=step)
            left -= step
        return total

    def rest_of_day(
        self, now: datetime, horizon_hours: float, *, arrived: float, elapsed_hours: float
    ) -> float:
        """Expected leads in ``[now, now + horizon_hours)`` given that ``arrived`` leads came
        in the ``elapsed_hours`` before ``now`` (the day so far).

        Today's level is the recent level updated by today's arrivals, as a Gamma-Poisson
        posterior mean with ``LEVEL_PRIOR_DAYS`` days' worth of weight on the recent level:
        ``(prior_days * level + arrived) / (prior_days + elapsed share of the day)``. A day
        much busier or quieter than the recent ones (a campaign, the first day after a
        weekend, a holiday) is recognised within its first hours.
        """
        rest = self.day_fraction(now, horizon_hours)
        if elapsed_hours <= 0:
            return rest * self.leads_per_day
        seen = self.day_fraction(now - timedelta(hours=elapsed_hours), elapsed_hours)
        level = (LEVEL_PRIOR_DAYS * self.leads_per_day + arrived) / (LEVEL_PRIOR_DAYS + seen)
        return rest * level


@lru_cache(maxsize=1 << 18)
def _rank(seed: int, lead_id: str) -> int:
    """A lead's rank for stable sampling: a uniform 64-bit hash of (seed, lead id)."""
    digest = blake2b(f"{seed}:{lead_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def later_window_days(window_lead_days: float, routed_before_today: float, level: float) -> float:
    """Lead days of the fairness window still to come after today: the window's lead days
    (``window_days`` x the share of days that have leads) minus the days already in it,
    estimated as the pool's leads routed before today over its daily ``level``, minus today.
    A window that is already full (a router running for longer than the window) has none
    left, so the band must hold by the end of today, as with a fixed horizon of one day."""
    if level <= 0:
        return 0.0
    return max(window_lead_days - routed_before_today / level - 1.0, 0.0)
