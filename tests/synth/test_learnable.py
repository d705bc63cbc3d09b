"""The signal is learnable: a plain logistic regression with rep x industry interactions,
fitted on the (confounded) history, recovers the true industry affinities of established reps."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression

from leadpilot.synth import World


def _one_hot(values: pd.Series, prefix: str) -> tuple[sparse.csr_matrix, list[str]]:
    dummies = pd.get_dummies(values, prefix=prefix, prefix_sep=":", dtype=float)
    return sparse.csr_matrix(dummies.to_numpy()), list(dummies.columns)


def test_rep_by_industry_affinities_are_recoverable(world: World) -> None:
    h = world.history[world.history["converted"].notna()].reset_index(drop=True)
    blocks, names = [], []
    for col in ("source", "region", "industry", "size_band", "product", "rep_id"):
        m, n = _one_hot(h[col], col)
        blocks.append(m)
        names += n
    for key, col in (("ri", "industry"), ("rs", "size_band")):
        m, n = _one_hot(h["rep_id"] + "|" + h[col], key)
        blocks.append(m)
        names += n
    numeric = np.c_[
        (h["engagement_score"] - 50) / 10,
        h["domain"].isna(),
        np.log1p(h["time_to_contact_hours"]),
    ]
    names += ["engagement", "free_mail", "log_hours"]
    x = sparse.hstack([*blocks, sparse.csr_matrix(numeric)]).tocsr()
    y = h["converted"].astype(bool).to_numpy()
    coef = dict(
        zip(names, LogisticRegression(C=0.5, max_iter=2000).fit(x, y).coef_[0], strict=True)
    )

    reps = world.reps.set_index("rep_id")
    start = pd.Timestamp(h["created_at"].min().date())
    established = [r for r in reps.index if pd.Timestamp(reps.at[r, "start_date"]) <= start]
    industries = list(world.truth.industry_effects)
    truth = {r.rep_id: r for r in world.truth.reps}
    est, true = [], []
    for rep in established:
        e = np.array([coef.get(f"ri:{rep}|{i}", 0.0) for i in industries])
        est += list(e - e.mean())
        true += [truth[rep].industry_affinity[i] for i in industries]
    # Seeds 0-3 at this size give 0.70-0.82; 0.6 leaves room for seed-to-seed spread.
    assert spearmanr(est, true)[0] > 0.6
