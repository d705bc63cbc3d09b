"""The synthetic sales team: roster (``REP_COLUMNS``) and each rep's true parameters.

Managers' beliefs (the ``industries`` list and the role's size segment) are right for most
reps and wrong for some, so a history logged by those beliefs is confounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from leadpilot.schema import REP_COLUMNS
from leadpilot.synth.catalog import (
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    PRODUCTS,
    REGION_TIMEZONES,
    REGIONS,
    ROLES,
    SIZE_BAND_LABELS,
)
from leadpilot.synth.truth import RepTruth

__all__ = ["Team", "make_team"]

# Spread of the true rep effects (log-odds). Comparative advantage (industry and size
# affinities) is larger than overall skill, as the issue asks; tuned so that the best
# capacity-feasible assignment beats round-robin by roughly 40-80% (see tests/synth).
SKILL_SD = 0.30
INDUSTRY_AFFINITY_SD = 0.40
SIZE_AFFINITY_AMPLITUDE = (0.2, 0.5)
SIZE_AFFINITY_WIDTH = 1.6
RESPONSE_MEDIAN_HOURS = {"SDR": 0.8, "AE": 2.0, "Enterprise": 3.0}
RESPONSE_SIGMA = 1.0
WIN_SKILL_SD = 0.30
# Size-band centre (band index 0..6) of each role's true sweet spot, and the role's
# believed segment (what the confounded logging policy sends them).
ROLE_SIZE_CENTRE = {"SDR": (0.0, 3.0), "AE": (2.0, 4.5), "Enterprise": (4.0, 6.0)}
BELIEVED_CENTRE = {"SDR": 1.0, "AE": 3.0, "Enterprise": 5.5}
SHARE_WRONG_INDUSTRY_BELIEF = 0.35
LATE_JOINER_SHARE = 0.15
# Total daily capacity / expected daily volume of new leads. Capacities differ only mildly
# (role x +-10%), so every rep can take at least 0.8x the pool average and a fairness band
# of 0.8-1.2 stays feasible (see tests/synth/test_lift.py); the best reps' caps still bind.
CAPACITY_RATIO = 1.25


@dataclass(frozen=True)
class Team:
    """The roster frame, true parameters, and what the logging policy believes."""

    roster: pd.DataFrame
    truths: tuple[RepTruth, ...]
    role: np.ndarray  # (n_reps,) role names
    believed_centre: np.ndarray  # (n_reps,) believed size-band centre
    believed_industries: np.ndarray  # (n_reps, n_industries) bool
    start: np.ndarray  # (n_reps,) datetime64[D] first day with leads
    end: np.ndarray  # (n_reps,) datetime64[D] last day with leads (inactive reps left)
    home_region: np.ndarray  # (n_reps,) region names


def make_team(
    rng: np.random.Generator,
    n_reps: int,
    history_start: date,
    history_end: date,
    new_leads_per_day: float,
) -> Team:
    """Draw ``n_reps`` reps with roles, territories, capacities and true parameters."""
    roles = _roles(rng, n_reps)
    industries = list(INDUSTRIES)
    n_ind = len(industries)
    width = max(2, len(str(n_reps)))
    rep_ids = [f"rep-{i + 1:0{width}d}" for i in range(n_reps)]

    # Names: distinct first/last pairs.
    pairs = rng.permutation(len(FIRST_NAMES) * len(LAST_NAMES))[:n_reps]
    first = [FIRST_NAMES[k // len(LAST_NAMES)] for k in pairs]
    last = [LAST_NAMES[k % len(LAST_NAMES)] for k in pairs]

    # True parameters.
    skill = rng.normal(0.0, SKILL_SD, n_reps)
    aff_ind = rng.normal(0.0, INDUSTRY_AFFINITY_SD, (n_reps, n_ind))
    aff_ind -= aff_ind.mean(axis=1, keepdims=True)  # skill carries each rep's level
    centre = np.array([rng.uniform(*ROLE_SIZE_CENTRE[r]) for r in roles])
    # Wrong beliefs about size: one Enterprise rep is truly a small-business specialist and
    # one SDR is a hidden enterprise talent.
    ent = np.flatnonzero(roles == "Enterprise")
    sdr = np.flatnonzero(roles == "SDR")
    if len(ent):
        centre[rng.choice(ent)] = rng.uniform(0.0, 2.0)
    if len(sdr) > 1:
        centre[rng.choice(sdr)] = rng.uniform(4.5, 6.0)
    bands = np.arange(len(SIZE_BAND_LABELS))
    amp = rng.uniform(*SIZE_AFFINITY_AMPLITUDE, n_reps)
    aff_size = amp[:, None] * np.exp(
        -((bands[None, :] - centre[:, None]) ** 2) / (2 * SIZE_AFFINITY_WIDTH**2)
    )
    aff_size -= aff_size.mean(axis=1, keepdims=True)
    med = np.array([RESPONSE_MEDIAN_HOURS[r] for r in roles])
    response = np.round(med * rng.lognormal(0.0, RESPONSE_SIGMA, n_reps), 2).clip(0.1, 24.0)
    win_skill = rng.normal(0.0, WIN_SKILL_SD, n_reps)

    # Beliefs about industries: the true top two for most reps, two random ones otherwise.
    believed = np.zeros((n_reps, n_ind), dtype=bool)
    top2 = np.argsort(-aff_ind, axis=1)[:, :2]
    wrong = rng.random(n_reps) < SHARE_WRONG_INDUSTRY_BELIEF
    for r in range(n_reps):
        cols = rng.choice(n_ind, 2, replace=False) if wrong[r] else top2[r]
        believed[r, cols] = True

    # Tenure: late joiners start 1-3 months before the end; one rep left 2 months before.
    hist_start = np.datetime64(history_start, "D")
    hist_end = np.datetime64(history_end, "D")
    start = hist_start - rng.integers(60, 1500, n_reps).astype("timedelta64[D]")
    end = np.full(n_reps, hist_end + np.timedelta64(3650, "D"))
    order = rng.permutation(n_reps)
    n_late = max(1, round(LATE_JOINER_SHARE * n_reps)) if n_reps >= 3 else 0
    late = order[:n_late]
    start[late] = hist_end - rng.integers(30, 95, n_late).astype("timedelta64[D]")
    active = np.ones(n_reps, dtype=bool)
    if n_reps >= 3:
        leaver = order[n_late]
        active[leaver] = False
        end[leaver] = hist_end - np.timedelta64(60, "D")

    # Territories, languages, products.
    region_names = list(REGIONS)
    home = rng.choice(region_names, n_reps, p=[0.5, 0.3, 0.1, 0.1])
    regions, languages, products, tzs, hours = [], [], [], [], []
    for r in range(n_reps):
        covered = [str(home[r])]
        if roles[r] == "Enterprise" or rng.random() < 0.3:
            covered.append(str(rng.choice([x for x in region_names if x != home[r]])))
        regions.append(";".join(covered))
        langs = ["en"]
        if home[r] == "EMEA" and rng.random() < 0.6:
            langs.append(str(rng.choice(["de", "fr", "es"])))
        if home[r] == "LATAM":
            langs += ["es", "pt"]
        languages.append(";".join(langs))
        if roles[r] == "AE":
            products.append(";".join(sorted(rng.choice(list(PRODUCTS), 2, replace=False))))
        else:
            products.append(";".join(PRODUCTS))
        tzs.append(str(rng.choice(REGION_TIMEZONES[str(home[r])])))
        hours.append(
            str(rng.choice(["Mon-Fri 09:00-17:30", "Mon-Fri 08:00-16:30", "Mon-Fri 10:00-18:30"]))
        )

    # Capacity: the role's relative weight times individual noise, scaled so that the active
    # team's total is CAPACITY_RATIO x the expected daily volume of new leads.
    weight = np.array([ROLES[r][2] for r in roles]) * rng.uniform(0.9, 1.1, n_reps)
    scale = CAPACITY_RATIO * new_leads_per_day / max(weight[active].sum(), 1e-9)
    # Floor: every rep can take 0.85x an equal share, so a 0.8-1.2 fairness band is feasible.
    floor = np.ceil(0.85 * new_leads_per_day / max(int(active.sum()), 1))
    cap = np.maximum(max(1.0, floor), np.round(weight * scale)).astype(np.int64)

    backups = []
    for r in range(n_reps):
        same = [k for k in range(n_reps) if k != r and active[k] and roles[k] == roles[r]]
        anyone = [k for k in range(n_reps) if k != r and active[k]]
        pick = same or anyone
        backups.append(rep_ids[int(rng.choice(pick))] if pick else None)

    roster = pd.DataFrame(
        {
            "rep_id": rep_ids,
            "name": [f"{f.title()} {s.title()}" for f, s in zip(first, last, strict=True)],
            "email": [f"{f}.{s}@leadpilot-sales.example" for f, s in zip(first, last, strict=True)],
            "pool": [ROLES[r][0] for r in roles],
            "role": list(roles),
            "regions": regions,
            "industries": [
                ";".join(industries[k] for k in np.flatnonzero(believed[r])) for r in range(n_reps)
            ],
            "products": products,
            "languages": languages,
            "max_leads_per_day": pd.array(cap, dtype="Int64"),
            "max_open_leads": pd.array(cap * 6, dtype="Int64"),
            "timezone": tzs,
            "working_hours": hours,
            "active": pd.array(active, dtype="boolean"),
            "start_date": pd.to_datetime(start).astype("datetime64[ns]"),
            "backup_rep_id": backups,
        },
        columns=list(REP_COLUMNS),
    )
    truths = tuple(
        RepTruth(
            rep_id=rep_ids[r],
            skill=round(float(skill[r]), 6),
            response_hours=float(response[r]),
            industry_affinity={industries[k]: round(float(aff_ind[r, k]), 6) for k in range(n_ind)},
            size_affinity={SIZE_BAND_LABELS[b]: round(float(aff_size[r, b]), 6) for b in bands},
            win_skill=round(float(win_skill[r]), 6),
        )
        for r in range(n_reps)
    )
    believed_centre = np.array([BELIEVED_CENTRE[r] for r in roles])
    return Team(roster, truths, roles, believed_centre, believed, start, end, home)


def _roles(rng: np.random.Generator, n_reps: int) -> np.ndarray:
    names = list(ROLES)
    counts = np.floor(np.array([ROLES[r][1] for r in names]) * n_reps).astype(int)
    counts = np.maximum(counts, 1 if n_reps >= len(names) else 0)
    while counts.sum() < n_reps:
        counts[int(np.argmax([ROLES[r][1] for r in names]) if counts.sum() else 0)] += 1
    while counts.sum() > n_reps:
        counts[int(np.argmax(counts))] -= 1
    roles = np.repeat(np.array(names, dtype=object), counts)
    return np.asarray(rng.permutation(roles))
