"""Features of a (lead, rep) pair: lead attributes, rep attributes and leak-free, shrunk
rep x segment track records.

Two ways to build them, from one learned :class:`FeatureState`:

* ``history_matrix`` for the history the model learns from: every per-rep statistic of a row
  counts only rows strictly earlier in time (expanding, ties share one value), so no row sees
  its own outcome or a later one.
* ``pair_matrix`` / the vectorised scorer for new leads: the statistics as of the end of the
  history, gathered from precomputed per-rep arrays (no DataFrame in the hot path).

Rates are shrunk (empirical-Bayes style with a fixed prior weight ``m`` in pseudo-leads):
a rep's rate towards the global rate, a rep's rate in a segment towards that rep's rate,
so a rep with 3 leads in a segment gets almost the rep's own rate, not 0% or 100%.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from leadpilot.model import glm_kernels
from leadpilot.model.feature_state import (
    LEAD_CATEGORICALS,
    LEAD_NUMERICS,
    MAX_EXTRA_LEVELS,
    NDF,
    NDI,
    NOT_FEATURES,
    REP_CATEGORICALS,
    REP_NUMERICS,
    SEGMENTS,
    FeatureState,
    sanitize,
)
from leadpilot.schema import HISTORY_COLUMNS

__all__ = [
    "LEAD_CATEGORICALS",
    "LEAD_NUMERICS",
    "REP_CATEGORICALS",
    "REP_NUMERICS",
    "SEGMENTS",
    "FeatureState",
    "extra_columns",
    "fit_feature_state",
    "history_matrix",
    "order_by_time",
    "pair_matrix",
    "product_matrix",
    "rep_dependent",
    "sanitize",
    "target_values",
]


def rep_dependent(name: str) -> bool:
    """Whether a model input describes the rep (unknown for an "average rep")."""
    return name in REP_CATEGORICALS or name in REP_NUMERICS or name.startswith("rep_x_")


def target_values(frame: pd.DataFrame, target: str) -> NDF:
    """Return the outcome as floats (1.0, 0.0, NaN while open/unknown), shape ``(n_rows,)``."""
    col = frame[target]
    out = pd.to_numeric(col.astype("Float64"), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return out


def order_by_time(frame: pd.DataFrame, time_column: str | None) -> tuple[pd.DataFrame, NDI]:
    """Sort rows by ``time_column`` (file order breaks ties; file order alone when the column
    is missing or empty, as in the seed-prompt export) and return ``(sorted, time_rank)``.

    ``time_rank`` is a dense integer rank: rows with the same timestamp share it, so a
    statistic "before this lead" never includes another lead stamped at the same moment.
    Rows with a missing timestamp take the previous row's (file order stands for time).
    """
    frame = frame.reset_index(drop=True)
    if time_column is None or time_column not in frame or frame[time_column].isna().all():
        return frame, np.arange(len(frame), dtype=np.int64)
    t = pd.to_datetime(frame[time_column], utc=True).ffill().bfill()
    order = np.lexsort((np.arange(len(frame)), t.to_numpy(dtype="datetime64[ns]").view(np.int64)))
    frame = frame.iloc[order].reset_index(drop=True)
    ts = t.iloc[order].to_numpy(dtype="datetime64[ns]").view(np.int64)
    rank = np.concatenate([[0], np.cumsum(ts[1:] != ts[:-1])]).astype(np.int64)
    return frame, rank


def _bincount(idx: NDI, weights: NDF | None, size: int) -> NDF:
    return np.asarray(np.bincount(idx, weights=weights, minlength=size), dtype=np.float64)


def _as_str_list(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(";") if v.strip()]


def _levels(series: pd.Series) -> list[str]:
    vals = series.dropna().astype(str)
    return sorted(vals.unique().tolist())


def _codes(series: pd.Series, levels: list[str]) -> NDF:
    """Level index of each value as float (NaN for missing or unseen), vectorised."""
    text = series.astype("object").where(series.notna(), None)
    idx = pd.Index(levels).get_indexer(pd.Index(text.map(str, na_action="ignore")))
    out = idx.astype(np.float64)
    out[(idx < 0) | text.isna().to_numpy()] = np.nan
    return out


def _day(ts: pd.Series) -> NDF:
    t = pd.to_datetime(ts, utc=True, errors="coerce")
    ns = t.to_numpy(dtype="datetime64[ns]").view(np.int64).astype(np.float64)
    ns[t.isna().to_numpy()] = np.nan
    return ns / 86_400e9


def extra_columns(frame: pd.DataFrame, target: str) -> tuple[list[str], list[str]]:
    """Non-canonical columns usable as features: (categorical, numeric). Identifier-like text
    (more than 50 distinct values) and mostly-empty columns are left out."""
    cats: list[str] = []
    nums: list[str] = []
    for col in frame.columns:
        if col in HISTORY_COLUMNS or col in NOT_FEATURES or col == target:
            continue
        s = frame[col]
        if s.notna().mean() < 0.05:
            continue
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            nums.append(str(col))
        elif s.nunique(dropna=True) <= MAX_EXTRA_LEVELS:
            cats.append(str(col))
    return cats, nums


def _lead_numeric_columns(frame: pd.DataFrame) -> dict[str, NDF]:
    def num(col: str) -> NDF:
        if col not in frame:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[col], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )

    created = (
        pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
        if "created_at" in frame
        else None
    )
    if created is not None and created.notna().any():
        hour = created.dt.hour.to_numpy(dtype=np.float64, na_value=np.nan)
        weekday = created.dt.weekday.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        hour = weekday = np.full(len(frame), np.nan)
    ttc = num("time_to_contact_hours")
    if np.isnan(ttc).all() and "first_contact_at" in frame and created is not None:
        first = pd.to_datetime(frame["first_contact_at"], utc=True, errors="coerce")
        ttc = np.asarray(
            ((first - created).dt.total_seconds() / 3600.0).to_numpy(
                dtype=np.float64, na_value=np.nan
            ),
            dtype=np.float64,
        )
    # 1 = a company domain is known, 0 = only a personal address (gmail...), NaN = neither.
    n = len(frame)
    has_domain = frame["domain"].notna().to_numpy() if "domain" in frame else np.zeros(n, bool)
    has_email = frame["email"].notna().to_numpy() if "email" in frame else np.zeros(n, bool)
    company_domain = np.where(has_domain, 1.0, np.where(has_email, 0.0, np.nan))
    return {
        "company_domain": company_domain,
        "log_company_size": np.log1p(np.clip(num("company_size"), 0, None)),
        "log_annual_revenue": np.log1p(np.clip(num("annual_revenue"), 0, None)),
        "engagement_score": num("engagement_score"),
        "created_hour": hour,
        "created_weekday": weekday,
        "log_time_to_contact": np.log1p(np.clip(ttc, 0, None)),
    }


def fit_feature_state(
    history: pd.DataFrame,
    reps: pd.DataFrame | None,
    *,
    target: str,
    shrinkage: float,
    dropped: Sequence[str] = (),
) -> FeatureState:
    """Learn levels and end-of-history counts from a time-ordered canonical ``history``."""
    y = target_values(history, target)
    lab = ~np.isnan(y)
    pos = np.where(lab, y, 0.0)
    extra_c, extra_n = extra_columns(history.drop(columns=list(dropped), errors="ignore"), target)
    levels: dict[str, list[str]] = {c: _levels(history[c]) for c in LEAD_CATEGORICALS}
    for c in extra_c:
        levels[sanitize(c)] = _levels(history[c])

    roster = reps if reps is not None else pd.DataFrame(columns=["rep_id"])
    rep_ids = sorted(
        set(history["rep_id"].dropna().astype(str)) | set(roster["rep_id"].dropna().astype(str))
    )
    levels["rep_id"] = rep_ids
    roster = roster.dropna(subset=["rep_id"]).assign(rep_id=lambda f: f["rep_id"].astype(str))
    roster = roster.drop_duplicates("rep_id").set_index("rep_id").reindex(rep_ids)
    for col, name in (("role", "rep_role"), ("pool", "rep_pool")):
        series = roster[col] if col in roster else pd.Series(index=roster.index, dtype=object)
        levels[name] = _levels(series)
    n_reps = len(rep_ids)

    def pad(a: NDF) -> NDF:
        return np.concatenate([a, [np.nan]])

    def rep_attr(col: str, name: str) -> NDF:
        if col not in roster:
            return np.full(n_reps + 1, np.nan)
        return pad(_codes(roster[col], levels[name]))

    start = (
        pad(_day(roster["start_date"])) if "start_date" in roster else np.full(n_reps + 1, np.nan)
    )
    # Each row's rep (n_reps: none); rep_ids holds the text of every rep in the history.
    known = history["rep_id"].notna().to_numpy()
    text = history["rep_id"].astype("object").astype(str)
    ridx = np.where(known, pd.Index(rep_ids).get_indexer(pd.Index(text)), n_reps).astype(np.int64)
    volume = _bincount(ridx, None, n_reps + 1)
    rep_n = _bincount(ridx, lab.astype(np.float64), n_reps + 1)
    rep_k = _bincount(ridx, pos, n_reps + 1)
    volume[n_reps] = rep_n[n_reps] = rep_k[n_reps] = 0.0
    ttc = _lead_numeric_columns(history)["log_time_to_contact"]
    ttc_med = np.full(n_reps + 1, np.nan)
    df = pd.DataFrame({"r": ridx, "t": np.expm1(ttc)}).dropna()
    if len(df):
        med = df.groupby("r")["t"].median()
        med = med[med.index < n_reps]
        ttc_med[med.index.to_numpy()] = med.to_numpy()

    seg_n: dict[str, NDF] = {}
    seg_k: dict[str, NDF] = {}
    rep_seg_n: dict[str, NDF] = {}
    rep_seg_k: dict[str, NDF] = {}
    for s in SEGMENTS:
        n_lev = len(levels[s])
        codes = _codes(history[s], levels[s])
        lev = np.where(np.isnan(codes), n_lev, codes).astype(np.int64)
        w_lab = lab.astype(np.float64)
        seg_n[s] = _bincount(lev, w_lab, n_lev + 1)
        seg_k[s] = _bincount(lev, pos, n_lev + 1)
        seg_n[s][n_lev] = seg_k[s][n_lev] = 0.0
        flat = ridx * (n_lev + 1) + lev
        size = (n_reps + 1) * (n_lev + 1)
        rsn = _bincount(flat, w_lab, size).reshape(n_reps + 1, n_lev + 1)
        rsk = _bincount(flat, pos, size).reshape(n_reps + 1, n_lev + 1)
        rsn[n_reps, :] = rsk[n_reps, :] = 0.0
        rsn[:, n_lev] = rsk[:, n_lev] = 0.0
        rep_seg_n[s], rep_seg_k[s] = rsn, rsk

    created_day = _day(history["created_at"]) if "created_at" in history else np.array([np.nan])
    end_day = float(np.nanmax(created_day)) if np.isfinite(created_day).any() else math.nan
    return FeatureState(
        target=target,
        shrinkage=float(shrinkage),
        levels=levels,
        extra_categoricals=extra_c,
        extra_numerics=extra_n,
        rep_ids=rep_ids,
        rep_role=rep_attr("role", "rep_role"),
        rep_pool=rep_attr("pool", "rep_pool"),
        rep_start_day=start,
        rep_industries=[
            _as_str_list(v)
            for v in (roster["industries"] if "industries" in roster else [None] * n_reps)
        ],
        rep_regions=[
            _as_str_list(v) for v in (roster["regions"] if "regions" in roster else [None] * n_reps)
        ],
        rep_volume=volume,
        rep_n=rep_n,
        rep_k=rep_k,
        rep_ttc_median=ttc_med,
        global_n=float(lab.sum()),
        global_k=float(pos.sum()),
        seg_n=seg_n,
        seg_k=seg_k,
        rep_seg_n=rep_seg_n,
        rep_seg_k=rep_seg_k,
        end_day=end_day,
    )


def _before(key: NDI, rank: NDI, values: NDF) -> NDF:
    """Sum of ``values`` over earlier rows with the same ``key`` (rows sorted by time; rows
    sharing a time rank share the value of the first of them). ``values`` are counts (0/1):
    non-negative, so the first row of a tie block has its smallest sum."""
    loop = glm_kernels.kernel("before", len(key))
    if loop is not None:
        out = np.empty(len(key))
        loop(key, rank, np.asarray(values, dtype=np.float64), int(key.max()) + 1, out)
        return out
    df = pd.DataFrame({"g": key, "t": rank, "v": values})
    excl = df.groupby("g", sort=False)["v"].cumsum().to_numpy() - values
    if len(rank) > 1 and np.any(rank[1:] == rank[:-1]):
        excl = pd.Series(excl).groupby([df["g"], df["t"]], sort=False).transform("min").to_numpy()
    return excl.astype(np.float64)


def _before_loop(key: NDI, rank: NDI, values: NDF, n_keys: int, out: NDF) -> None:
    """``_before`` in one pass (compiled by ``glm_kernels``; pandas' groupby is the
    reference): running sums per key, a tie block reading the sum before its first row."""
    total = np.zeros(n_keys)
    last = np.full(n_keys, -1, np.int64)
    first = np.zeros(n_keys)
    for r in range(key.shape[0]):
        k = key[r]
        if rank[r] != last[k]:
            last[k] = rank[r]
            first[k] = total[k]
        out[r] = first[k]
        total[k] += values[r]


glm_kernels.register("before", _before_loop)


def lead_columns(state: FeatureState, frame: pd.DataFrame) -> dict[str, NDF]:
    """Lead-only feature columns of a canonical frame (category codes as floats)."""
    cols: dict[str, NDF] = {c: _codes(frame[c], state.levels[c]) for c in LEAD_CATEGORICALS}
    for c in state.extra_categoricals:
        series = frame[c] if c in frame else pd.Series([None] * len(frame), dtype=object)
        cols[sanitize(c)] = _codes(series, state.levels[sanitize(c)])
    cols.update(_lead_numeric_columns(frame))
    for c in state.extra_numerics:
        if c in frame:
            v = pd.to_numeric(frame[c].astype("object"), errors="coerce")
            cols[sanitize(c)] = v.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            cols[sanitize(c)] = np.full(len(frame), np.nan)
    return cols


def history_matrix(state: FeatureState, history: pd.DataFrame, rank: NDI) -> tuple[NDF, NDF]:
    """Feature matrix of a time-ordered history with leak-free expanding rep statistics.

    Returns ``(X, rep_n_before)``: X has shape ``(n_rows, n_features)`` in
    ``state.feature_names`` order; ``rep_n_before`` counts each row's rep's earlier labelled
    leads (what backs that rep's score at the time).
    """
    n = len(history)
    y = target_values(history, state.target)
    lab = (~np.isnan(y)).astype(np.float64)
    pos = np.where(np.isnan(y), 0.0, y)
    cols = lead_columns(state, history)
    ridx = state.rep_indices(
        history["rep_id"].astype("object").where(history["rep_id"].notna(), "").tolist()
    )
    zero = np.zeros(n, dtype=np.int64)
    m = state.shrinkage
    gn, gk = _before(zero, rank, lab), _before(zero, rank, pos)
    g = (gk + 1.0) / (gn + 2.0)
    rn, rk = _before(ridx, rank, lab), _before(ridx, rank, pos)
    volume = _before(ridx, rank, np.ones(n))
    rep_rate = (rk + m * g) / (rn + m)
    created_day = _day(history["created_at"]) if "created_at" in history else np.full(n, np.nan)
    cols["rep_id"] = np.where(ridx < state.n_reps, ridx, np.nan).astype(np.float64)
    cols["rep_role"] = state.rep_role[ridx]
    cols["rep_pool"] = state.rep_pool[ridx]
    cols["rep_tenure_days"] = created_day - state.rep_start_day[ridx]
    cols["rep_log_volume"] = np.log1p(volume)
    cols["rep_rate"] = rep_rate
    cols["rep_covers_industry"] = state.covers_industry(ridx, cols["industry"])
    cols["rep_covers_region"] = state.covers_region(ridx, cols["region"])
    for s in SEGMENTS:
        n_lev = len(state.levels[s])
        c = np.where(np.isnan(cols[s]), n_lev, cols[s]).astype(np.int64)
        sn, sk = _before(c, rank, lab), _before(c, rank, pos)
        missing = c == n_lev
        sn[missing] = sk[missing] = 0.0
        seg_rate = (sk + m * g) / (sn + m)
        key = ridx * (n_lev + 1) + c
        rsn, rsk = _before(key, rank, lab), _before(key, rank, pos)
        rsn[missing] = rsk[missing] = 0.0
        rs_rate = (rsk + m * rep_rate) / (rsn + m)
        cols[f"rep_x_{s}_rate"] = rs_rate
        cols[f"rep_x_{s}_lift"] = rs_rate - seg_rate
        cols[f"rep_x_{s}_log_n"] = np.log1p(rsn)
    X = np.column_stack([cols[name] for name in state.feature_names]).astype(np.float64, copy=False)
    return X, np.where(ridx < state.n_reps, rn, 0.0)


def pair_matrix(state: FeatureState, pairs: pd.DataFrame) -> tuple[NDF, NDI]:
    """Feature matrix of (lead, rep) pairs scored as of the end of the history.

    ``pairs`` holds canonical lead columns plus ``rep_id`` and optionally
    ``time_to_contact_hours`` (else each rep's historical median response time).
    """
    n = len(pairs)
    cols = lead_columns(state, pairs)
    ridx = state.rep_indices(
        pairs["rep_id"].astype("object").where(pairs["rep_id"].notna(), "").tolist()
    )
    if "time_to_contact_hours" not in pairs or pairs["time_to_contact_hours"].isna().all():
        cols["log_time_to_contact"] = np.log1p(state.rep_ttc_median[ridx])
    created_day = _day(pairs["created_at"]) if "created_at" in pairs else np.full(n, np.nan)
    return _with_rep_block(state, cols, ridx, created_day), ridx


def product_matrix(
    state: FeatureState, leads: pd.DataFrame, rep_ids: Sequence[str]
) -> tuple[NDF, NDI]:
    """``pair_matrix`` of every lead of ``leads`` with every rep of ``rep_ids`` (lead-major:
    row ``i * len(rep_ids) + j`` is lead ``i`` with rep ``j``), each rep at its median
    response time (the leads' own response columns are not read). The lead columns are
    built once per lead, not once per pair: each is a function of its own row."""
    k = len(rep_ids)
    leads = leads.drop(columns=["time_to_contact_hours", "first_contact_at"], errors="ignore")
    cols = {name: np.repeat(v, k) for name, v in lead_columns(state, leads).items()}
    ridx = np.tile(state.rep_indices([str(r) for r in rep_ids]), len(leads))
    cols["log_time_to_contact"] = np.log1p(state.rep_ttc_median[ridx])
    day = _day(leads["created_at"]) if "created_at" in leads else np.full(len(leads), np.nan)
    return _with_rep_block(state, cols, ridx, np.repeat(day, k)), ridx


def _with_rep_block(state: FeatureState, cols: dict[str, NDF], ridx: NDI, created_day: NDF) -> NDF:
    """The pairs' matrix from their lead columns ``cols`` and reps ``ridx``."""
    created_day = np.where(np.isnan(created_day), state.end_day, created_day)
    seg_codes = {
        s: np.where(np.isnan(cols[s]), len(state.levels[s]), cols[s]).astype(np.int64)
        for s in SEGMENTS
    }
    cols.update(state.rep_block(ridx, seg_codes, cols["industry"], cols["region"], created_day))
    return np.column_stack([cols[name] for name in state.feature_names]).astype(np.float64)
