"""``generate_world``: history, reps, accounts, new leads and the ground truth, from a seed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from leadpilot.errors import ConfigError
from leadpilot.schema import ACCOUNT_COLUMNS, HISTORY_COLUMNS
from leadpilot.synth.catalog import (
    INDUSTRIES,
    PRODUCTS,
    REGIONS,
    SIZE_BAND_EFFECTS,
    SOURCES,
)
from leadpilot.synth.history import RANDOM_SHARE, assign_history, contact_delays, draw_outcomes
from leadpilot.synth.kinds import check_kind, rep_effects_for
from leadpilot.synth.leads import Companies, draw_leads, make_companies
from leadpilot.synth.reps import Team, make_team
from leadpilot.synth.truth import GroundTruth
from leadpilot.synth.values import draw_value_effects

__all__ = ["EXTRA_COLUMNS", "NEW_LEAD_BUSINESS_DAYS", "World", "generate_world"]

# Lead attributes beyond the canonical columns (policy rules use them for intent).
EXTRA_COLUMNS: tuple[str, ...] = ("demo_request", "pricing_page_visit")
NEW_LEAD_BUSINESS_DAYS = 20
WEEKDAY_VOLUME = np.array([1.05, 1.10, 1.05, 1.00, 0.80, 0.0, 0.0])  # Mon..Sun
DEFAULT_START = date(2025, 1, 6)
DUPLICATE_SHARE = 0.02
OFF_HOURS_SHARE = 0.06
N_ACCOUNTS = 300
# When (UTC hours) inbound leads of each region arrive: their local business hours, clipped
# to 09:00-21:00 UTC (so every rep's calendar day is the UTC day).
ARRIVAL_WINDOWS_UTC = {"EMEA": (9.0, 17.0), "NAMER": (13.5, 21.0), "LATAM": (12.0, 21.0),
                       "APAC": (9.0, 12.0)}  # fmt: skip

# True base effects (log-odds) not tied to a category table.
INTERCEPT = -1.55
ENGAGEMENT_PER_10 = 0.35
FREE_MAIL_EFFECT = -0.35
CONTACT_DECAY = 0.30
CONTACT_DECAY_PER_10 = 0.05  # hot (engaged) leads go cold faster
WIN_INTERCEPT = -0.45
WIN_SIZE_EFFECTS = {"1-10": 0.3, "11-50": 0.2, "51-200": 0.1, "201-500": 0.0,
                    "501-1000": -0.1, "1001-5000": -0.25, "5000+": -0.4}  # fmt: skip


@dataclass(frozen=True)
class World:
    """A synthetic world. ``history`` and ``new_leads`` hold ``HISTORY_COLUMNS``, then
    ``source_row`` (line in the written CSV), then ``EXTRA_COLUMNS``; ``reps`` holds
    ``REP_COLUMNS`` (dtypes as ``leadpilot.ingest.read_reps`` gives them); ``accounts``
    ``ACCOUNT_COLUMNS``; ``truth`` the true model; ``history_propensity`` the probability the
    historical assignment gave each history row's rep (exact; not written to the files).
    Reading the written files back through ``leadpilot.ingest`` gives the same values
    (tested)."""

    history: pd.DataFrame
    reps: pd.DataFrame
    accounts: pd.DataFrame
    new_leads: pd.DataFrame
    truth: GroundTruth
    history_propensity: np.ndarray | None = None

    @property
    def active_rep_ids(self) -> list[str]:
        """Reps who can take new leads."""
        return list(self.reps.loc[self.reps["active"].fillna(False).astype(bool), "rep_id"])

    def new_lead_days(self) -> np.ndarray:
        """Business-day index (0, 1, ...) of each new lead, shape ``(n_new_leads,)``.

        New leads arrive between 09:00 and 21:00 UTC and every rep's timezone lies within
        UTC-8..UTC+2, so this UTC day is also the calendar day in each rep's timezone.
        """
        days = self.new_leads["created_at"].dt.floor("D")
        return np.unique(days.to_numpy(), return_inverse=True)[1].astype(np.int64)

    def daily_capacity(self, rep_ids: list[str] | None = None) -> np.ndarray:
        """``max_leads_per_day`` per rep (0 for inactive reps), shape ``(n_reps,)``."""
        reps = self.reps.set_index("rep_id")
        ids = list(reps.index) if rep_ids is None else rep_ids
        cap = reps.loc[ids, "max_leads_per_day"].fillna(0).to_numpy(dtype=np.int64)
        active = reps.loc[ids, "active"].fillna(False).to_numpy(dtype=bool)
        return np.where(active, cap, 0)


def generate_world(
    *,
    n_leads: int | None = None,
    n_reps: int = 20,
    n_new_leads: int = 2_000,
    seed: int = 0,
    start: date = DEFAULT_START,
    months: int = 18,
    explore_share: float = RANDOM_SHARE,
    history_pools: bool = False,
    belief_sharpness: float = 1.0,
    kind: str = "additive",
    deal_values: Literal["size", "rep_segment"] = "size",
) -> World:
    """Draw a synthetic world; the same arguments always give the same world.

    ``explore_share``: share of past leads (outside ownership holds) the historical
    assignment sent to a random rep; near 0 gives a history that rarely explores, where
    off-policy estimates of other policies have little overlap to work with.
    ``history_pools``: the historical assignment kept each lead inside its segment's pool
    (``catalog.SEGMENT_POOLS``: 1-200 employees inbound SDRs, 201-1000 mid-market AEs, 1001+
    enterprise), as a team routing by segment does (ownership holds aside); False: any
    active rep, by the managers' beliefs. ``belief_sharpness`` (> 0) multiplies the beliefs'
    scores: 4 gives a history that rarely strays from the managers' rules (with a small
    ``explore_share``, a history with poor overlap for any other policy).
    ``kind``: which rep-specific structure the truth holds (:mod:`leadpilot.synth.kinds`);
    ``n_leads`` defaults to the kind's size (20,000; 12,000 for ``thin``).
    ``deal_values``: ``size`` (deal size follows the company alone) or ``rep_segment``
    (each rep's deals are larger or smaller per segment, see :mod:`leadpilot.synth.values`;
    ``truth.value_effects`` holds the truth, ``synth.values.TrueValues`` serves it).

    >>> world = generate_world(n_leads=2_000, n_reps=8, n_new_leads=200, seed=1)
    >>> world.truth.true_probability(world.new_leads, world.active_rep_ids).shape
    (200, 7)
    """
    spec = check_kind(kind)
    n_leads = spec.default_leads if n_leads is None else n_leads
    _check(n_leads, n_reps, n_new_leads, months, explore_share)
    if not belief_sharpness > 0:
        raise ConfigError(
            f"belief_sharpness must be positive (got {belief_sharpness})", hint="e.g. 1 or 4"
        )
    rng = np.random.default_rng(seed)
    hist_start = pd.Timestamp(start, tz="UTC")
    hist_end_day = (hist_start + pd.DateOffset(months=months) - pd.Timedelta(days=1)).date()
    history_end = pd.Timestamp(hist_end_day, tz="UTC") + pd.Timedelta(hours=23, minutes=59)

    team = make_team(rng, n_reps, start, hist_end_day, n_new_leads / NEW_LEAD_BUSINESS_DAYS)
    rep_truths, effects = rep_effects_for(kind, seed, team.truths, start, hist_end_day)
    truth = GroundTruth(
        seed=seed,
        intercept=INTERCEPT,
        source_effects={k: v[1] for k, v in SOURCES.items()},
        region_effects=dict(REGIONS),
        industry_effects={k: v[1] for k, v in INDUSTRIES.items()},
        size_band_effects=dict(SIZE_BAND_EFFECTS),
        product_effects={k: v[1] for k, v in PRODUCTS.items()},
        engagement_per_10=ENGAGEMENT_PER_10,
        free_mail_effect=FREE_MAIL_EFFECT,
        contact_decay=CONTACT_DECAY,
        contact_decay_per_10=CONTACT_DECAY_PER_10,
        win_intercept=WIN_INTERCEPT,
        win_size_effects=WIN_SIZE_EFFECTS,
        reps=rep_truths,
        kind=kind,
        rep_effects=effects,
    )
    if deal_values == "rep_segment":
        truth = replace(truth, value_effects=draw_value_effects(seed, rep_truths))
    elif deal_values != "size":
        raise ConfigError(
            f"deal_values must be 'size' or 'rep_segment' (got {deal_values!r})",
            hint="rep_segment: deal size varies with the rep and the segment",
        )
    companies = make_companies(rng, max(50, (n_leads + n_new_leads) // 3))
    accounts, owner_of = _accounts(rng, companies, team, history_end)

    # One draw for past and new leads, so email addresses are unique across both; the time
    # of day follows the lead's region (business hours there), so the day's mix shifts.
    hist_day, off_secs = _history_days(rng, n_leads, hist_start, history_end)
    days = np.concatenate([hist_day, _new_lead_days(rng, n_new_leads, history_end)])
    drawn = draw_leads(rng, companies, _utc(days.astype("datetime64[s]")))
    secs = _arrival_seconds(rng, drawn["region"].to_numpy())
    secs[:n_leads] = np.where(off_secs >= 0, off_secs, secs[:n_leads])
    drawn["created_at"] = _utc(days.astype("datetime64[s]") + secs.astype("timedelta64[s]"))
    hist = drawn.iloc[:n_leads].sort_values("created_at", kind="stable").reset_index(drop=True)
    new = drawn.iloc[n_leads:].sort_values("created_at", kind="stable").reset_index(drop=True)
    width = max(6, len(str(n_leads + n_new_leads)))
    hist.insert(0, "lead_id", [f"L{i + 1:0{width}d}" for i in range(n_leads)])
    new.insert(0, "lead_id", [f"L{n_leads + i + 1:0{width}d}" for i in range(n_new_leads)])
    duplicates = _inject_duplicates(rng, hist, hist)
    duplicates.update(_inject_duplicates(rng, new, hist))

    rep_pos, propensity = assign_history(
        rng,
        hist,
        team,
        list(INDUSTRIES),
        owner_of,
        explore_share=explore_share,
        pools=history_pools,
        belief_sharpness=belief_sharpness,
    )
    rep_ids = team.roster["rep_id"].to_numpy(dtype=object)
    hist["rep_id"] = rep_ids[rep_pos]
    hours = contact_delays(rng, hist["created_at"], rep_pos, team)
    hist["first_contact_at"] = hist["created_at"] + pd.to_timedelta(np.round(hours * 3600), "s")
    hist["time_to_contact_hours"] = hours
    hist = draw_outcomes(rng, hist, truth, history_end)

    truth = replace(truth, duplicates=duplicates)
    return World(
        history=_canonical(hist, first_row=2),
        reps=team.roster,
        accounts=accounts,
        new_leads=_canonical(new, first_row=2),
        truth=truth,
        history_propensity=propensity,
    )


def _check(n_leads: int, n_reps: int, n_new_leads: int, months: int, explore: float) -> None:
    if not 0 <= explore <= 1:
        raise ConfigError(
            f"explore_share must lie in [0, 1] (got {explore})", hint="e.g. 0.35 or 0.02"
        )
    for name, value, low in (
        ("--leads", n_leads, 100),
        ("--reps", n_reps, 2),
        ("--new-leads", n_new_leads, 1),
        ("months", months, 1),
    ):
        if value < low:
            raise ConfigError(
                f"{name} must be at least {low} (got {value})",
                hint=f"pass {name} {low} or more",
            )


def _history_days(
    rng: np.random.Generator, n: int, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Creation days (business days, growing volume) and, for the ~6% of leads created off
    hours (any day, any time), their second of the day; -1 for the others."""
    first = np.datetime64(start.date(), "D")
    last = np.datetime64(end.date(), "D")
    all_days = np.arange(first, last + np.timedelta64(1, "D"))
    bdays = all_days[np.is_busday(all_days)]
    trend = np.linspace(1.0, 1.4, len(bdays))
    day = bdays[rng.choice(len(bdays), n, p=trend / trend.sum())]
    off = rng.random(n) < OFF_HOURS_SHARE
    day = np.where(off, all_days[rng.integers(0, len(all_days), n)], day)
    secs = np.where(off, rng.integers(0, 24 * 3600, n), -1)
    return day, secs


def _new_lead_days(rng: np.random.Generator, n: int, history_end: pd.Timestamp) -> np.ndarray:
    """New leads' days over the next ``NEW_LEAD_BUSINESS_DAYS`` business days, with a weekday
    pattern (busier early in the week, quieter on Fridays) and +-5% noise. Counts are
    apportioned, not sampled, so no day exceeds ~1.15x the average and the team's total
    capacity (``CAPACITY_RATIO`` x the average) covers every day."""
    first = np.busday_offset(np.datetime64(history_end.date(), "D"), 1, roll="forward")
    bdays = np.busday_offset(first, np.arange(NEW_LEAD_BUSINESS_DAYS))
    weekday = (bdays.astype("datetime64[D]").view("int64") - 4) % 7  # 0 = Monday
    weight = WEEKDAY_VOLUME[weekday] * rng.uniform(0.95, 1.05, len(bdays))
    share = n * weight / weight.sum()
    counts = np.floor(share).astype(np.int64)
    rest = n - counts.sum()
    counts[np.argsort(counts - share, kind="stable")[:rest]] += 1  # largest remainders
    return np.repeat(bdays, counts)


def _arrival_seconds(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    """Second of the day (UTC) within the region's arrival window, all in 09:00-21:00 UTC."""
    low = np.full(len(region), 9 * 3600)
    high = np.full(len(region), 21 * 3600)
    for name, (start_h, end_h) in ARRIVAL_WINDOWS_UTC.items():
        mask = region == name
        low[mask], high[mask] = int(start_h * 3600), int(end_h * 3600)
    return np.asarray(low + np.floor(rng.random(len(region)) * (high - low)), dtype=np.int64)


def _utc(ts: np.ndarray) -> pd.Series:
    return pd.Series(ts).dt.tz_localize("UTC").astype("datetime64[ns, UTC]")


_PERSON = ("email", "company", "domain", "industry", "company_size", "size_band",
           "annual_revenue", "region", "country", "state", "title", "language",
           "company_index")  # fmt: skip


def _inject_duplicates(
    rng: np.random.Generator, frame: pd.DataFrame, pool: pd.DataFrame
) -> dict[str, str]:
    """Turn ~2% of ``frame``'s rows into repeat submissions of an earlier lead of ``pool``
    (same person and company, own time, source and intent). Returns {duplicate: original}."""
    n = len(frame)
    k = round(DUPLICATE_SHARE * n)
    if k == 0 or len(pool) < 2:
        return {}
    same = frame is pool
    rows = np.sort(rng.choice(np.arange(1, n) if same else np.arange(n), k, replace=False))
    if same:
        originals = np.setdiff1d(np.arange(n), rows)
        earlier = np.searchsorted(originals, rows)  # originals before each duplicate (>= 1)
        back = np.minimum(rng.geometric(1 / 300, k), earlier)
        src = originals[earlier - back]
    else:
        src = rng.integers(max(0, len(pool) - 5 * n), len(pool), k)
    for col in _PERSON:
        frame.loc[rows, col] = pool[col].to_numpy()[src]  # RangeIndex: labels = positions
    dup_ids = frame["lead_id"].to_numpy()[rows]
    orig_ids = pool["lead_id"].to_numpy()[src]
    return dict(zip(dup_ids.tolist(), orig_ids.tolist(), strict=True))


def _canonical(frame: pd.DataFrame, *, first_row: int) -> pd.DataFrame:
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for col in HISTORY_COLUMNS:
        if col in frame:
            out[col] = frame[col].to_numpy() if frame[col].dtype == object else frame[col]
        elif col in {"created_at", "first_contact_at", "converted_at", "closed_at"}:
            out[col] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
        elif col in {"converted", "closed_won"}:
            out[col] = pd.array([None] * len(frame), dtype="boolean")
        elif col in {"time_to_contact_hours", "deal_value"}:
            out[col] = np.nan
        else:
            out[col] = pd.Series([None] * len(frame), dtype=object)
    for col in ("created_at", "first_contact_at", "converted_at", "closed_at"):
        out[col] = pd.to_datetime(out[col], utc=True).astype("datetime64[ns, UTC]")
    for col in ("converted", "closed_won"):
        out[col] = out[col].astype("boolean")
    if "external_id" not in frame:
        out["external_id"] = ["00Q" + lid[1:].rjust(12, "0") for lid in out["lead_id"]]
    out["source_row"] = np.arange(first_row, first_row + len(frame), dtype=np.int64)
    for col in EXTRA_COLUMNS:
        out[col] = pd.array(frame[col].to_numpy(dtype=bool), dtype="boolean")
    return out


def _accounts(
    rng: np.random.Generator, companies: Companies, team: Team, history_end: pd.Timestamp
) -> tuple[pd.DataFrame, dict[int, int]]:
    """~300 known accounts among the busiest companies, owned by AEs / Enterprise reps."""
    n = min(N_ACCOUNTS, max(1, len(companies.weight) // 5))
    idx = np.sort(np.argsort(-companies.weight, kind="stable")[:n])
    size = companies.size[idx]
    strategic = size >= np.quantile(size, 0.95)
    roles = team.role
    active = team.roster["active"].to_numpy(dtype=bool)
    senior = np.flatnonzero(np.isin(roles, ["AE", "Enterprise"]))
    senior = senior if len(senior) else np.arange(len(roles))
    ent = np.flatnonzero(roles == "Enterprise")
    owners = rng.choice(senior, n)
    if len(ent):
        owners[strategic] = rng.choice(ent, int(strategic.sum()))
    # Leaver's accounts are kept (owner inactive) so holds must fall back to the backup.
    leaver = np.flatnonzero(~active)
    if len(leaver) and n >= 10:
        # A few standard accounts still belong to the rep who left (CRMs are rarely clean).
        standard = np.flatnonzero(~strategic)
        owners[rng.choice(standard, min(3, len(standard)), replace=False)] = leaver[0]
    touch = history_end - pd.to_timedelta(rng.integers(0, 180 * 86400, n), unit="s")
    touched = rng.random(n) < 0.8
    if len(leaver):
        touch = touch.where(~(owners == leaver[0]), touch - pd.Timedelta(days=60))
    rep_ids = team.roster["rep_id"].to_numpy(dtype=object)
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i + 1:04d}" for i in range(n)],
            "name": companies.name[idx],
            "domain": companies.domain[idx],
            "owner_rep_id": rep_ids[owners],
            "has_open_opportunity": pd.array(rng.random(n) < 0.25, dtype="boolean"),
            "last_touch_at": pd.Series(touch.floor("s"))
            .where(touched)
            .astype("datetime64[ns, UTC]"),
            "tier": np.where(strategic, "strategic", "standard").astype(object),
        },
        columns=list(ACCOUNT_COLUMNS),
    )
    return frame, {int(c): int(o) for c, o in zip(idx, owners, strict=True)}
