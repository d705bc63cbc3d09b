"""The confounded history: who got each past lead, how fast they called, and what happened.

Past leads were assigned by managers' beliefs (size segment by role, believed industry
specialists, account owners), with a share sent at random; late joiners only get leads
after their start date and the rep who left gets none after leaving. With ``pools`` the
assignment (beliefs and random share alike) stays inside the lead's segment pool, as a team
that routes by segment does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadpilot.synth.catalog import ROLES, SEGMENT_POOLS, SIZE_BAND_LABELS
from leadpilot.synth.reps import Team
from leadpilot.synth.truth import GroundTruth
from leadpilot.synth.values import (
    DEAL_SCALE,
    DEAL_SIGMA,
    DEAL_SIZE_EXPONENT,
    assigned_value_effect,
)

__all__ = ["assign_history", "contact_delays", "draw_outcomes", "segment_pool_members"]

RANDOM_SHARE = 0.35  # leads the logging policy sent to a random active rep
OWNER_HOLD_SHARE = 0.8  # account leads that went to the account owner
BELIEF_INDUSTRY_WEIGHT = 1.2
BELIEF_SIZE_WEIGHT = 0.35
OPEN_WINDOW_DAYS = 14  # unconverted leads younger than this at the end are still open
_CHUNK = 200_000
_NA = np.array(None, dtype=object)


def assign_history(
    rng: np.random.Generator,
    leads: pd.DataFrame,
    team: Team,
    industry_levels: list[str],
    owner_of_company: dict[int, int],
    *,
    explore_share: float = RANDOM_SHARE,
    pools: bool = False,
    belief_sharpness: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Rep position per lead, shape ``(n_leads,)``, drawn by the confounded logging policy
    (``explore_share`` of the leads not held by an owner go to a uniformly random rep), and
    the probability that policy gave the drawn rep, shape ``(n_leads,)``: the exact logging
    propensity off-policy evaluation needs. ``pools``: only reps of the lead's segment pool
    (``SEGMENT_POOLS``) are drawn from (all on-duty reps when that pool has nobody on duty);
    ownership holds still go to the owner, whatever the pool. ``belief_sharpness`` multiplies
    the belief scores: above 1 the assignment sticks more strictly to the managers' beliefs
    (a team that rarely strays from its routing rules). The random draws are the same either
    way, so ``pools=False`` and sharpness 1 give the same history as before these options."""
    n = len(leads)
    n_reps = len(team.truths)
    day = leads["created_at"].dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    ind = pd.Categorical(leads["industry"], categories=industry_levels).codes
    band = pd.Categorical(leads["size_band"], categories=list(SIZE_BAND_LABELS)).codes
    member = segment_pool_members(leads["size_band"], team.role) if pools else None
    out = np.empty(n, dtype=np.intp)
    prob = np.empty((n, n_reps))
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        d = day[lo:hi, None]
        on_duty = (team.start[None, :] <= d) & (d <= team.end[None, :])
        if member is not None:
            in_pool = on_duty & member[lo:hi]
            on_duty = np.where(in_pool.any(axis=1, keepdims=True), in_pool, on_duty)
        score = BELIEF_INDUSTRY_WEIGHT * team.believed_industries[:, ind[lo:hi]].T
        score = (
            score - BELIEF_SIZE_WEIGHT * (band[lo:hi, None] - team.believed_centre[None, :]) ** 2
        )
        score = score * belief_sharpness if belief_sharpness != 1.0 else score
        # Gumbel-max over on-duty reps draws from the softmax of the beliefs (uniform when
        # exploring), so the probability of every rep is known exactly.
        belief = np.where(on_duty, score, -np.inf)
        soft = np.exp(belief - belief.max(axis=1, keepdims=True))
        soft /= soft.sum(axis=1, keepdims=True)
        uniform = on_duty / np.maximum(on_duty.sum(axis=1, keepdims=True), 1)
        prob[lo:hi] = explore_share * uniform + (1 - explore_share) * soft
        explore = rng.random(hi - lo) < explore_share
        score = np.where(explore[:, None], 0.0, score)
        score = score + rng.gumbel(size=(hi - lo, n_reps))
        score[~on_duty] = -np.inf
        out[lo:hi] = np.argmax(score, axis=1)
    # Ownership holds: most leads of a known account went to its owner while on duty.
    comp = leads["company_index"].to_numpy()
    owner = np.array([owner_of_company.get(int(c), -1) for c in comp]) if owner_of_company else None
    if owner is not None:
        has = owner >= 0
        safe = np.where(has, owner, 0)
        on = has & (team.start[safe] <= day) & (day <= team.end[safe])
        hold = on & (rng.random(n) < OWNER_HOLD_SHARE)
        out[hold] = owner[hold]
        prob[on] *= 1 - OWNER_HOLD_SHARE
        prob[np.flatnonzero(on), owner[on]] += OWNER_HOLD_SHARE
    return out, prob[np.arange(n), out]


def segment_pool_members(size_band: pd.Series, roles: np.ndarray) -> np.ndarray:
    """Whether each rep (by ``roles``, shape ``(n_reps,)``) belongs to each lead's segment
    pool (``SEGMENT_POOLS`` of its size band), shape ``(n_leads, n_reps)``; a lead without a
    size band belongs to every pool."""
    rep_pool = np.array([ROLES[str(r)][0] for r in roles], dtype=object)
    lead_pool = size_band.map(SEGMENT_POOLS).to_numpy(dtype=object)
    known = pd.notna(lead_pool)
    return np.asarray((lead_pool[:, None] == rep_pool[None, :]) | ~known[:, None], dtype=bool)


def contact_delays(
    rng: np.random.Generator, created_at: pd.Series, rep_pos: np.ndarray, team: Team
) -> np.ndarray:
    """Hours to first contact, shape ``(n_leads,)``, to 0.36 s: a lead that arrives outside
    its rep's working hours (in the rep's timezone) waits for the next working morning, then
    the rep's own delay follows (typical response time x log-normal noise)."""
    wait = np.zeros(len(created_at))
    roster = team.roster
    for r in np.unique(rep_pos):
        mask = rep_pos == r
        local = created_at[mask].dt.tz_convert(str(roster.at[r, "timezone"])).dt.tz_localize(None)
        start_h, end_h = _working_window(str(roster.at[r, "working_hours"]))
        ts = local.to_numpy()
        day = ts.astype("datetime64[D]")
        hour = (ts - day.astype("datetime64[ns]")) / np.timedelta64(1, "h")
        busy = np.is_busday(day)
        before = busy & (hour < start_h)
        after = ~busy | (hour >= end_h)
        nxt = np.where(
            busy, np.busday_offset(day, 1, roll="forward"), np.busday_offset(day, 0, roll="forward")
        )
        ahead = (nxt - day).astype(np.int64)
        wait[mask] = np.where(
            before, start_h - hour, np.where(after, ahead * 24 + start_h - hour, 0.0)
        )
    typical = np.array([t.response_hours for t in team.truths])[rep_pos]
    own = typical * rng.lognormal(0.0, 0.6, len(created_at))
    return np.round(wait + own, 4)


def _working_window(text: str) -> tuple[float, float]:
    """(start, end) hours of a ``Mon-Fri HH:MM-HH:MM`` working-hours string."""
    times = text.split()[-1].split("-")
    start, end = ((int(t[:2]) + int(t[3:5]) / 60) for t in times)
    return start, end


def draw_outcomes(
    rng: np.random.Generator,
    frame: pd.DataFrame,
    truth: GroundTruth,
    history_end: pd.Timestamp,
) -> pd.DataFrame:
    """Fill converted / converted_at / closed_won / closed_at / deal_value from the truth.

    Outcomes not yet known at ``history_end`` are left open (<NA> / NaT), as a real export
    taken that day would show them.
    """
    n = len(frame)
    t = frame["time_to_contact_hours"].to_numpy()
    p_conv = truth.true_probability_assigned(frame, time_to_contact_hours=t)
    p_won = truth.true_probability_assigned(frame, time_to_contact_hours=t, target="closed_won")
    u = rng.random(n)
    converted = u < p_conv
    won = converted & (rng.random(n) < p_won / np.maximum(p_conv, 1e-12))
    first = frame["first_contact_at"]
    conv_at = first + pd.to_timedelta(
        np.round(rng.lognormal(np.log(6.0), 0.7, n) * 86400), unit="s"
    )
    close_at = conv_at + pd.to_timedelta(
        np.round(rng.lognormal(np.log(35.0), 0.6, n) * 86400), unit="s"
    )
    size = frame["company_size"].to_numpy()
    deal = DEAL_SCALE * size**DEAL_SIZE_EXPONENT * rng.lognormal(0.0, DEAL_SIGMA, n)
    if truth.value_effects:  # deal size varies with the rep and the segment
        deal = deal * np.exp(assigned_value_effect(size, list(frame["rep_id"]), truth))
    deal = np.round(deal, -2)

    created = frame["created_at"]
    conv_known = converted & (conv_at <= history_end).to_numpy()
    young = (created > history_end - pd.Timedelta(days=OPEN_WINDOW_DAYS)).to_numpy()
    conv_open = (converted & ~conv_known) | (~converted & young)
    close_known = conv_known & (close_at <= history_end).to_numpy()

    out = frame.copy()
    out["converted"] = pd.array(np.where(conv_open, _NA, converted), dtype="boolean")
    out["converted_at"] = conv_at.where(conv_known)
    closed = np.where(~converted & ~conv_open, False, np.where(close_known, won, _NA))
    out["closed_won"] = pd.array(closed, dtype="boolean")
    out["closed_at"] = close_at.where(close_known)
    out["deal_value"] = np.where(conv_known, deal, np.nan)
    return out
