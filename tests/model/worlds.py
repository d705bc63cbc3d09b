"""A small synthetic history with a known P(convert | lead, rep), for the model tests
(independent of ``leadpilot.synth``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadpilot.schema import HISTORY_COLUMNS

INDUSTRIES = ("Software", "Healthcare", "Finance", "Retail", "Manufacturing", "Education")
SOURCES = ("Web", "Referral", "Event", "Paid")
BANDS = ("1-10", "11-50", "51-200", "201-500", "501-1000")
REGIONS = ("EMEA", "NA", "APAC")


@dataclass
class ToyWorld:
    history: pd.DataFrame
    reps: pd.DataFrame
    rep_effect: np.ndarray  # (n_reps,)
    rep_industry: np.ndarray  # (n_reps, n_industries)
    rep_ids: list[str]

    def true_logit(self, frame: pd.DataFrame, rep_ids: list[str]) -> np.ndarray:
        """(n_leads, n_reps) true log-odds."""
        ind = frame["industry"].map({v: i for i, v in enumerate(INDUSTRIES)}).to_numpy()
        src = frame["source"].map({v: i for i, v in enumerate(SOURCES)}).to_numpy()
        eng = frame["engagement_score"].to_numpy(np.float64)
        r = np.array([self.rep_ids.index(x) for x in rep_ids])
        base = -1.6 + 0.5 * (src == 1) - 0.3 * (src == 3) + 0.02 * (eng - 50)
        return base[:, None] + self.rep_effect[r][None, :] + self.rep_industry[np.ix_(ind, r)]

    def true_probability(self, frame: pd.DataFrame, rep_ids: list[str]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.true_logit(frame, rep_ids)))


def toy_world(n: int = 20_000, n_reps: int = 12, seed: int = 0) -> ToyWorld:
    rng = np.random.default_rng(seed)
    rep_ids = [f"rep-{i:02d}" for i in range(n_reps)]
    rep_effect = rng.normal(0, 0.3, n_reps)
    rep_industry = rng.normal(0, 0.6, (len(INDUSTRIES), n_reps))
    start = pd.Timestamp("2024-01-01", tz="UTC")
    created = start + pd.to_timedelta(np.sort(rng.uniform(0, 365 * 24, n)), unit="h")
    frame = pd.DataFrame({c: pd.Series([None] * n, dtype=object) for c in HISTORY_COLUMNS})
    frame["lead_id"] = [f"L{i:06d}" for i in range(n)]
    frame["created_at"] = created
    frame["industry"] = rng.choice(INDUSTRIES, n)
    frame["source"] = rng.choice(SOURCES, n)
    frame["size_band"] = rng.choice(BANDS, n)
    frame["company_size"] = rng.lognormal(4, 1.2, n)
    frame["region"] = rng.choice(REGIONS, n)
    frame["country"] = frame["region"].map({"EMEA": "DE", "NA": "US", "APAC": "JP"})
    frame["product"] = rng.choice(["Core", "Plus"], n)
    frame["engagement_score"] = rng.uniform(0, 100, n)
    frame["rep_id"] = rng.choice(rep_ids, n)
    frame["time_to_contact_hours"] = rng.exponential(4.0, n)
    world = ToyWorld(frame, pd.DataFrame(), rep_effect, rep_industry.T.copy().T, rep_ids)
    world.rep_industry = rep_industry
    idx = np.array([rep_ids.index(r) for r in frame["rep_id"]])
    logit = world.true_logit(frame, rep_ids)[np.arange(n), idx]
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame["converted"] = pd.array(y, dtype="boolean")
    for col in (
        "company_size",
        "engagement_score",
        "time_to_contact_hours",
        "annual_revenue",
        "deal_value",
    ):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    for col in ("first_contact_at", "converted_at", "closed_at"):
        frame[col] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    frame["closed_won"] = pd.array([pd.NA] * n, dtype="boolean")
    frame["source_row"] = np.arange(n) + 2
    world.reps = pd.DataFrame(
        {
            "rep_id": rep_ids,
            "name": [f"Rep {i}" for i in range(n_reps)],
            "pool": "AE",
            "role": "AE",
            "industries": [";".join(rng.choice(INDUSTRIES, 2, replace=False)) for _ in rep_ids],
            "regions": "",
            "start_date": pd.Timestamp("2022-01-01"),
            "active": True,
        }
    )
    return world
