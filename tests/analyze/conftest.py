"""Canonical history frames with known structure, built here so the audit can be tested
without the intake or the synthetic world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

INDUSTRIES = ("Software", "Retail", "Finance", "Healthcare")
SIZES = ("11-50", "51-200", "1001-5000")
SOURCES = ("Webinar", "Paid Search", "Referral", "Trade Show")


def make_history(
    n: int = 4000, *, reps: int = 6, affinity: float = 1.2, seed: int = 1
) -> pd.DataFrame:
    """A canonical frame: random assignment; rep-0 excels at Software, rep-1 at Retail (log-odds
    ``affinity``); conversion falls with log contact time; Referral converts best."""
    rng = np.random.default_rng(seed)
    rep = rng.integers(0, reps, n)
    ind = rng.integers(0, len(INDUSTRIES), n)
    size = rng.integers(0, len(SIZES), n)
    src = rng.integers(0, len(SOURCES), n)
    hours = np.exp(rng.normal(0.0, 1.8, n))
    z = -1.3 - 0.25 * np.log(hours) + 0.5 * (src == 2) - 0.3 * (src == 1)
    z += affinity * ((rep == 0) & (ind == 0)) + affinity * ((rep == 1) & (ind == 1))
    conv = rng.random(n) < 1 / (1 + np.exp(-z))
    won = conv & (rng.random(n) < 0.35)
    return pd.DataFrame(
        {
            "lead_id": [f"L{i:06d}" for i in range(n)],
            "created_at": pd.NaT,
            "source": np.array(SOURCES, dtype=object)[src],
            "industry": np.array(INDUSTRIES, dtype=object)[ind],
            "size_band": np.array(SIZES, dtype=object)[size],
            "rep_id": np.array([f"rep-{i:02d}" for i in range(reps)], dtype=object)[rep],
            "time_to_contact_hours": hours,
            "converted": pd.array(conv, dtype="boolean"),
            "closed_won": pd.array(won, dtype="boolean"),
            "source_row": np.arange(2, n + 2),
        }
    )


def true_probability(frame: pd.DataFrame, rep: int, affinity: float = 1.2) -> np.ndarray:
    """P(convert) of every lead of a :func:`make_history` frame had it gone to ``rep``."""
    hours = frame["time_to_contact_hours"].to_numpy(float)
    src = frame["source"].to_numpy()
    ind = frame["industry"].to_numpy()
    z = -1.3 - 0.25 * np.log(hours) + 0.5 * (src == "Referral") - 0.3 * (src == "Paid Search")
    if rep == 0:
        z = z + affinity * (ind == "Software")
    if rep == 1:
        z = z + affinity * (ind == "Retail")
    return np.asarray(1 / (1 + np.exp(-z)), dtype=float)


@pytest.fixture(scope="session")
def history() -> pd.DataFrame:
    return make_history()


@pytest.fixture(scope="session")
def world() -> object:
    """Namespace with :func:`make_history` and :func:`true_probability` (importlib mode does
    not let test modules import conftest)."""

    class _World:
        make = staticmethod(make_history)
        truth = staticmethod(true_probability)

    return _World
