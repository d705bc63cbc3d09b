"""Shadow prices of rep capacity and of the fairness band: the duals of the capacity- and
fairness-constrained assignment LP solved on the expected lead mix, so the router keeps room
for later leads ("bid-price control" from revenue management, re-solved as the day fills).

The LP (solved with scipy's HiGHS, whose dual values we read): the demand sample ``S`` (recent
leads routed to the pool) stands for two blocks of leads still to come: the rest of today
(weight ``w`` per sample lead, so the block sums to the leads expected today) and the later
days of the fairness window (weight ``v``); ``x[s, r]`` and ``y[s, r]`` are the shares of
sample lead ``s`` given to rep ``r`` in each block::

    max  sum_{s,r} p[s,r] (w x[s,r] + v y[s,r])  -  penalty * sum_r (over_r + under_r)
    s.t. sum_r x[s,r] <= 1,  sum_r y[s,r] <= 1                (each lead once)
         sum_s w x[s,r] <= remaining_today[r]                  (capacity today, hard)
         sum_s v y[s,r] <= daily_cap[r] * later_days           (capacity later)
         count_r + sum_s (w x + v y)[s,r] - over_r  <= high * target_r  (fairness band, soft)
         count_r + sum_s (w x + v y)[s,r] + under_r >= low  * target_r
         0 <= x, y <= 1 (0 where the rep is ineligible), over, under >= 0

where ``count_r`` is the rep's leads in the fairness window and ``target_r`` the rep's fair
share of the window's expected total (leads so far + today + later days; shares are equal,
or proportional to daily capacity with ``fairness.shares: capacity``). A real lead then goes
to argmax ``p(rep) - price(rep)`` with ``price = dual(capacity today) + dual(high) -
dual(low)``: a rep whose capacity is scarce today or who is above the band costs more, one
below the band is cheaper. The band is *soft* (slack priced at ``fairness.penalty`` per lead)
so the LP is always feasible; with the default penalty (1 conversion per lead) it binds
whenever it can be met.

Why the later days: the band is measured over the window, not per day. With today alone in
the LP, the first days of a window must already be within the band on their own (day one:
every rep gets almost the same number of leads), and a rep who falls behind is pushed at the
penalty price rather than caught up over the days left. Planning the rest of the window lets
the prices spend the band where it pays and gives fairness prices that are stable from day to
day. The days left are estimated from the leads already in the window
(:func:`later_window_days`); a router that has run for longer than the window has none left,
so the band then holds by the end of each day.

How many leads are still to come today: the recent level (leads per typical day: days with at
least ``QUIET_DAY_SHARE`` of the median day, so a weekend with a few off-hours leads does not
pass for Monday's volume) times the share of the day's arrival profile still ahead, updated by
the pool's arrivals so far today (:meth:`DemandModel.rest_of_day`): a busy or quiet day is
recognised within hours.

Modules: :mod:`leadpilot.policy.demand` (the expected lead mix),
:mod:`leadpilot.policy.assignment_lp` (the LP) and :mod:`leadpilot.policy.pricer` (the
cached, refreshed prices per pool); this module re-exports their public names.

Refreshing the prices means solving that LP (~20-60 ms for 20 reps and a 450-lead sample;
``max_cells`` caps the sample for bigger pools). Batch routing solves it synchronously, so
``route-batch`` is a deterministic function of its inputs. The service gives the pricer a
``solver`` (a one-process pool): a refresh then runs in that process while requests keep using
the pool's latest prices (stale-while-refresh), so no request waits for the LP. A process, not
a thread, because HiGHS holds the GIL for the whole solve.
"""

from __future__ import annotations

from leadpilot.policy.assignment_lp import solve_assignment_lp, warm_up_solver
from leadpilot.policy.demand import DemandModel, later_window_days
from leadpilot.policy.pricer import ShadowPricer, pool_prices, refresh_prices
from leadpilot.policy.response_times import typical_response_hours

__all__ = [
    "DemandModel",
    "ShadowPricer",
    "later_window_days",
    "pool_prices",
    "refresh_prices",
    "solve_assignment_lp",
    "typical_response_hours",
    "warm_up_solver",
]
