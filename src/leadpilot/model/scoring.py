"""Probabilities from a fitted conversion model: log-odds of the ensemble, shrinkage of thin
reps toward an average rep, calibration, and the vectorised (one lead x many reps) path.

Plain functions of a :class:`~leadpilot.model.fitted.FittedConversion` (or of its parts,
while training assembles one), shared by the estimator, training, evaluation and explain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from leadpilot.errors import ModelError
from leadpilot.model.confidence import top_vs_pool
from leadpilot.model.feature_state import NDF, NDI, sanitize
from leadpilot.model.features import LEAD_CATEGORICALS, SEGMENTS, pair_matrix, product_matrix
from leadpilot.model.fitted import FittedConversion
from leadpilot.model.glm import GLMStack
from leadpilot.model.raw_predict import raw_scores
from leadpilot.model.rep_trees import RepTrees, Trees
from leadpilot.schema import CandidateScores, Lead, size_band_of

__all__ = [
    "ModelBatchScores",
    "average_rep",
    "calibrated_history",
    "candidate_matrix",
    "candidate_probabilities",
    "candidate_tensor",
    "contributions",
    "few_rows_raw",
    "pair_probabilities",
    "product_probabilities",
    "raw_log_odds",
    "shrunk_log_odds",
]

# Below this many rows one thread is faster: OpenMP spin-waits cost more than they save.
_PARALLEL_ROWS = 20_000
# An average-rep row scored for one lead at a mean response time is scored with the next
# leads' at the same mean (see ``ModelBatchScores._speculate``).
AHEAD = 8


def raw_log_odds(
    glm: GLMStack,
    boosters: Sequence[Trees],
    X: NDF,
    *,
    full_only: bool = False,
    n_jobs: int = 1,
) -> NDF:
    """(1 + n_bags, n_rows) log-odds: row 0 the full model, then the bags (each bag's linear
    part plus the shared trees); ``(1, n_rows)`` with ``full_only``."""
    G = glm.margins(X, only=0 if full_only else None)
    if X.shape[0] < _PARALLEL_ROWS:
        for booster in boosters:
            G += few_rows_raw(booster, X)[None, :]
        return G
    for booster in boosters:
        raw = np.asarray(booster.predict(X, raw_score=True, num_threads=n_jobs))
        G += raw[None, :]
    return G


def few_rows_raw(booster: Trees, X: NDF) -> NDF:
    """``booster.predict(X, raw_score=True, num_threads=1)`` bit for bit, without the
    wrapper's per-call cost (see :mod:`leadpilot.model.raw_predict`): one lead's rows."""
    if isinstance(booster, RepTrees):
        return booster.raw_scores(X)
    return raw_scores(booster, X)


def average_rep(X: NDF, rep_columns: NDI) -> NDF:
    """The same rows with every rep-dependent feature unknown: an average rep."""
    A = X.copy()
    A[:, rep_columns] = np.nan
    return A


def shrunk_log_odds(
    glm: GLMStack,
    boosters: Sequence[Trees],
    rep_columns: NDI,
    rep_prior_strength: float,
    X: NDF,
    rep_n: NDF,
    *,
    n_jobs: int = 1,
) -> NDF:
    """The full model's log-odds of history rows, each pulled toward an average rep's by
    ``rep_prior_strength / (rep_n + rep_prior_strength)``; shape ``(n_rows,)``."""
    Z = raw_log_odds(glm, boosters, X, full_only=True, n_jobs=n_jobs)[0]
    Z_anon = raw_log_odds(
        glm, boosters, average_rep(X, rep_columns), full_only=True, n_jobs=n_jobs
    )[0]
    w = rep_n / (rep_n + rep_prior_strength)
    return np.asarray(Z * w + Z_anon * (1.0 - w), dtype=np.float64)


def calibrated_history(fitted: FittedConversion, X: NDF, rep_n: NDF, *, n_jobs: int = 1) -> NDF:
    """Calibrated P(convert) of history rows (their features as of each lead)."""
    z = shrunk_log_odds(
        fitted.glm,
        fitted.boosters,
        fitted.rep_columns,
        fitted.rep_prior_strength,
        X,
        rep_n,
        n_jobs=n_jobs,
    )
    return np.asarray(fitted.calibrator.transform(z), dtype=np.float64)


def pair_probabilities(fitted: FittedConversion, pairs: pd.DataFrame, *, n_jobs: int = 1) -> NDF:
    """P(convert) of (lead, rep) pairs as of the end of the history, shape ``(n_pairs,)``."""
    if "rep_id" not in pairs:
        raise ModelError("pairs need a 'rep_id' column", hint="one row per (lead, rep) pair")
    frame = pairs.copy()
    for col in (*LEAD_CATEGORICALS, "created_at"):
        if col not in frame:
            frame[col] = None
    X, ridx = pair_matrix(fitted.state, frame)
    return calibrated_history(fitted, X, fitted.state.rep_n[ridx], n_jobs=n_jobs)


def product_probabilities(
    fitted: FittedConversion, leads: pd.DataFrame, rep_ids: Sequence[str], *, n_jobs: int = 1
) -> NDF:
    """``pair_probabilities`` of every lead with every rep, each rep at its median response
    time, shape ``(n_leads, n_reps)``: the same numbers without a frame of every pair
    (``simulate``'s outcome models score ~17,000 leads x 20 reps per fold)."""
    frame = leads.assign(**{c: None for c in (*LEAD_CATEGORICALS, "created_at") if c not in leads})
    X, ridx = product_matrix(fitted.state, frame, rep_ids)
    p = calibrated_history(fitted, X, fitted.state.rep_n[ridx], n_jobs=n_jobs)
    return p.reshape(len(leads), len(rep_ids))


def _extra(lead: Lead, column: str) -> Any:
    """An extra field of a lead; ingest's ``x_`` prefix may or may not be on either side."""
    value = lead.get(column)
    if value is None and column.startswith("x_"):
        value = lead.get(column[2:])
    return value


def _epoch_day(ts: datetime | None) -> float:
    if ts is None:
        return math.nan
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.timestamp() / 86_400.0


def _lead_vector(fitted: FittedConversion, lead: Lead) -> NDF:
    st = fitted.state
    pos = fitted.positions
    v = np.full(len(pos), np.nan)
    band = lead.size_band or size_band_of(lead.company_size)
    for name in LEAD_CATEGORICALS:
        value = band if name == "size_band" else getattr(lead, name)
        v[pos[name]] = st.code(name, value)
    for col in st.extra_categoricals:
        v[pos[sanitize(col)]] = st.code(sanitize(col), _extra(lead, col))
    for col in st.extra_numerics:
        raw = _extra(lead, col)
        try:
            v[pos[sanitize(col)]] = math.nan if raw is None else float(raw)
        except (TypeError, ValueError):
            v[pos[sanitize(col)]] = math.nan
    if lead.company_size is not None:
        v[pos["log_company_size"]] = math.log1p(max(float(lead.company_size), 0.0))
    if lead.annual_revenue is not None:
        v[pos["log_annual_revenue"]] = math.log1p(max(float(lead.annual_revenue), 0.0))
    if lead.engagement_score is not None:
        v[pos["engagement_score"]] = float(lead.engagement_score)
    if lead.created_at is not None:
        ts = lead.created_at
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC)
        v[pos["created_hour"]] = ts.hour
        v[pos["created_weekday"]] = ts.weekday()
    return v


def candidate_matrix(
    fitted: FittedConversion, lead: Lead, rep_ids: Sequence[str], hours: NDF | None
) -> tuple[NDF, NDF]:
    """(n_reps + 1, n_features) rows: one per rep, then the average-rep row; and the
    labelled-history count of each rep."""
    st = fitted.state
    pos = fitted.positions
    n = len(rep_ids)
    ridx = np.empty(n + 1, dtype=np.int64)
    ridx[:n] = st.rep_indices(rep_ids)
    ridx[n] = st.n_reps
    lead_vec = _lead_vector(fitted, lead)
    X = np.empty((n + 1, lead_vec.shape[0]))
    X[:] = lead_vec
    seg_codes = {}
    for s in SEGMENTS:
        c = lead_vec[pos[s]]
        seg_codes[s] = np.int64(len(st.levels[s]) if math.isnan(c) else int(c))
    day = _epoch_day(lead.created_at)
    day = st.end_day if math.isnan(day) else day
    block = st.rep_block(
        ridx,
        seg_codes,  # type: ignore[arg-type]
        lead_vec[pos["industry"]],
        lead_vec[pos["region"]],
        day,  # type: ignore[arg-type]
    )
    for name, col in block.items():
        X[:, pos[name]] = col
    if hours is not None:
        ttc = np.log1p(np.clip(np.asarray(hours, dtype=np.float64), 0.0, None))
    else:
        ttc = np.log1p(st.rep_ttc_median[ridx[:n]])
    ttc_pos = pos["log_time_to_contact"]
    X[:n, ttc_pos] = ttc
    X[n, ttc_pos] = np.nanmean(ttc) if np.isfinite(ttc).any() else np.nan
    X[n, fitted.rep_columns] = np.nan
    return X, st.rep_n[ridx[:n]]


def candidate_probabilities(
    fitted: FittedConversion,
    lead: Lead,
    rep_ids: Sequence[str],
    hours: NDF | None,
    *,
    n_jobs: int = 1,
) -> tuple[NDF, NDF, NDF]:
    """(per-bag P (n_bags, n_reps), the full model's P (n_reps,), sufficiency weights)."""
    if hours is not None and len(hours) != len(rep_ids):
        raise ModelError(
            f"expected_response_hours has {len(hours)} values for {len(rep_ids)} reps",
            hint="pass one expected response time per rep, in the order of rep_ids",
        )
    X, rep_n = candidate_matrix(fitted, lead, rep_ids, hours)
    Z = raw_log_odds(fitted.glm, fitted.boosters, X, n_jobs=n_jobs)
    n = len(rep_ids)
    w = rep_n / (rep_n + fitted.rep_prior_strength)
    Zs = Z[:, :n] * w + Z[:, n : n + 1] * (1.0 - w)
    cal = fitted.calibrator
    return cal.transform(Zs[1:]), cal.transform(Zs[0]), w


def candidate_tensor(
    fitted: FittedConversion, leads: Sequence[Lead], rep_ids: Sequence[str], hours: NDF | None
) -> tuple[NDF, NDF]:
    """:func:`candidate_matrix` for many leads at once: shape ``(n_leads, n_reps + 1,
    n_features)`` (per lead one row per rep, then the average rep at all ``rep_ids``' mean
    response time), numpy gathers over the whole batch; and each rep's labelled count."""
    st = fitted.state
    pos = fitted.positions
    n, m = len(rep_ids), len(leads)
    ridx = np.empty(n + 1, dtype=np.int64)
    ridx[:n] = st.rep_indices(rep_ids)
    ridx[n] = st.n_reps
    V = np.vstack([_lead_vector(fitted, lead) for lead in leads]) if m else np.zeros((0, 1))
    width = V.shape[1] if m else len(pos)
    X = np.empty((m, n + 1, width))
    if not m:
        return X, st.rep_n[ridx[:n]]
    X[:] = V[:, None, :]
    seg_codes = {}
    for s in SEGMENTS:
        c = V[:, pos[s]]
        seg_codes[s] = np.where(np.isnan(c), len(st.levels[s]), c).astype(np.int64)[:, None]
    day = np.array([_epoch_day(lead.created_at) for lead in leads])
    day = np.where(np.isnan(day), st.end_day, day)[:, None]
    block = st.rep_block(
        ridx[None, :],
        seg_codes,
        V[:, pos["industry"]][:, None],
        V[:, pos["region"]][:, None],
        day,
    )
    for name, col in block.items():
        X[:, :, pos[name]] = col
    if hours is not None:
        ttc = np.log1p(np.clip(np.asarray(hours, dtype=np.float64), 0.0, None))
    else:
        ttc = np.log1p(st.rep_ttc_median[ridx[:n]])
    ttc_pos = pos["log_time_to_contact"]
    X[:, :n, ttc_pos] = ttc
    X[:, n, ttc_pos] = np.nanmean(ttc) if np.isfinite(ttc).any() else np.nan
    X[:, n, fitted.rep_columns] = np.nan
    return X, st.rep_n[ridx[:n]]


def _mean_or_nan(v: NDF) -> float:
    """``_nanmean(v) if np.isfinite(v).any() else nan`` bit for bit, with one test of the
    values instead of two when all are finite (the router's case: ``_nanmean``'s sum)."""
    if v.shape[0] and np.isfinite(v).all():
        return float(np.add.reduce(v)) / v.shape[0]
    return _nanmean(v) if np.isfinite(v).any() else math.nan


def _nanmean(v: NDF) -> float:
    """``float(np.nanmean(v))`` of a 1-D array, bit for bit: with nothing missing it is
    ``np.sum(v) / len(v)`` (numpy's own steps), without nanmean's Python overhead (the
    router asks once per lead)."""
    if np.isnan(v).any():
        return float(np.nanmean(v))
    return float(np.add.reduce(v)) / v.shape[0]


class ModelBatchScores:
    """The conversion model's scores of a batch of leads x a roster, from one vectorised
    model call (:meth:`ConversionModel.score_batch`).

    ``candidates(row, cols)`` equals ``score_candidates`` of that lead and those reps at the
    batch's response hours: the reps' log-odds are the batch's; the average rep (every rep
    shrinks toward it) sits at the candidates' mean response time, so a subset of the roster
    whose mean differs gets its own average-rep row (one row scored, cached per lead)."""

    def __init__(
        self,
        fitted: FittedConversion,
        leads: Sequence[Lead],
        rep_ids: Sequence[str],
        hours: NDF | None,
        *,
        n_jobs: int = 1,
    ) -> None:
        if hours is not None and len(hours) != len(rep_ids):
            raise ModelError(
                f"expected_response_hours has {len(hours)} values for {len(rep_ids)} reps",
                hint="pass one expected response time per rep, in the order of rep_ids",
            )
        self._fitted = fitted
        self._n_jobs = n_jobs
        X, rep_n = candidate_tensor(fitted, leads, rep_ids, hours)
        m, width = X.shape[0], X.shape[2]
        n = len(rep_ids)
        ttc_pos = fitted.positions["log_time_to_contact"]
        # The linear part's categorical terms do not read the response time (unless a model
        # says otherwise): kept, a pair re-scored at another time adds only the numeric part.
        keep_pre = m > 0 and ttc_pos not in fitted.glm.categorical_columns()
        if m:
            flat = X.reshape(-1, width)
            pre = fitted.glm.categorical_margins(flat)
            Z = fitted.glm.add_numeric(pre.copy() if keep_pre else pre, flat)
            threads = 1 if flat.shape[0] < _PARALLEL_ROWS else n_jobs
            for booster in fitted.boosters:  # as raw_log_odds, with the parts kept
                Z += np.asarray(booster.predict(flat, raw_score=True, num_threads=threads))[None, :]
        else:
            Z = np.zeros((fitted.glm.n_models, 0))
        self._Z = Z.reshape(Z.shape[0], m, n + 1)
        self._pre = pre.reshape(Z.shape[0], m, n + 1) if keep_pre else None
        # Kept for :meth:`candidates_at`: a pair whose response time moved is re-scored from
        # its own row with only that column changed (the same row ``score_candidates`` builds).
        self._X = X
        self._avg_rows = X[:, n, :]  # the average rep's features, per lead (a view of X)
        # each rep's log time to contact when the caller passes no hours (its median)
        st = fitted.state
        self._ttc_default = np.log1p(st.rep_ttc_median[st.rep_indices(rep_ids)])
        self._ttc_pos = fitted.positions["log_time_to_contact"]
        self._ttc = X[0, :n, self._ttc_pos].copy() if m else np.zeros(n)
        self._full_mean = float(X[0, n, self._ttc_pos]) if m else math.nan
        self._w = rep_n / (rep_n + fitted.rep_prior_strength)
        self._1mw = 1.0 - self._w
        self._n = n
        self._avg_cache: dict[tuple[int, float], NDF] = {}
        self.average_rows_scored = 0

    @property
    def p(self) -> NDF:
        """Calibrated P(convert) of every lead with every rep (the whole roster as the
        candidates), shape ``(n_leads, n_reps)``."""
        n = self._n
        Zs = self._Z[0, :, :n] * self._w + self._Z[0, :, n : n + 1] * (1.0 - self._w)
        return np.asarray(self._fitted.calibrator.transform(Zs), dtype=np.float64)

    def _average(self, row: int, cols: NDI) -> NDF:
        n = self._n
        if len(cols) == n and bool(np.all(cols == np.arange(n))):
            return self._Z[:, row, n]
        ttc = self._ttc[cols]
        mean = _nanmean(ttc) if np.isfinite(ttc).any() else math.nan
        if mean == self._full_mean or (math.isnan(mean) and math.isnan(self._full_mean)):
            return self._Z[:, row, n]
        key = (row, mean)
        cached = self._avg_cache.get(key)
        if cached is None:
            x = self._avg_rows[row : row + 1].copy()
            x[0, self._ttc_pos] = mean
            cached = self._log_odds(row, np.array([self._n]), x)[:, 0]
            self._avg_cache[key] = cached
            self.average_rows_scored += 1
        return cached

    def prime_averages(self, wanted: Sequence[tuple[int, Sequence[int]]]) -> int:
        """Score, in one vectorised call, the average-rep rows that ``candidates(row, cols)``
        would score one at a time for each ``(row, cols)`` in ``wanted`` (the batch router's
        guess of each lead's candidates); returns how many rows it scored. The rows are the
        ones ``candidates`` scores (same features, row by row the same numbers), so a guess
        only saves time: a wrong one leaves ``candidates`` to score its own row."""
        n = self._n
        keys: list[tuple[int, float]] = []
        for row, cols in wanted:
            idx = np.asarray(cols, dtype=np.int64)
            if len(idx) == 0 or (len(idx) == n and bool(np.all(idx == np.arange(n)))):
                continue
            ttc = self._ttc[idx]
            mean = _nanmean(ttc) if np.isfinite(ttc).any() else math.nan
            if mean == self._full_mean or (math.isnan(mean) and math.isnan(self._full_mean)):
                continue
            if (row, mean) not in self._avg_cache:
                keys.append((row, mean))
        keys = list(dict.fromkeys(keys))
        if not keys:
            return 0
        X = self._avg_rows[[row for row, _ in keys]].copy()
        X[:, self._ttc_pos] = [mean for _, mean in keys]
        fitted = self._fitted
        Z = raw_log_odds(fitted.glm, fitted.boosters, X, n_jobs=self._n_jobs)
        for j, key in enumerate(keys):
            self._avg_cache[key] = Z[:, j].copy()
        return len(keys)

    def candidates_at(self, row: int, cols: Sequence[int], hours: NDF | None) -> CandidateScores:
        """``score_candidates`` of lead ``row`` against the reps in columns ``cols`` at
        expected response ``hours`` (one per column; ``None``: each rep's median), bit for
        bit: the pairs whose response time is the batch's come from the batch; the others
        (e.g. a rep with a queue backlog) and the average rep at the candidates' mean time,
        when that differs, are scored here in one call of a few rows, each built as
        ``score_candidates`` builds it (the batch's row with the new time)."""
        idx = np.asarray(cols, dtype=np.int64)
        if len(idx) == 0:
            return CandidateScores(p=np.empty(0), confidence=0.0, sufficiency=np.empty(0))
        Z, avg_z = self._log_odds_at(row, idx, hours)
        return self._shrunk(Z, avg_z, idx)

    def shrunk_at(self, row: int, cols: NDI, hours: NDF | None) -> NDF:
        """What :meth:`candidates_at` calibrates: each candidate's log-odds pulled toward
        the average rep, ``(1 + n_bags, len(cols))`` (row 0 the full model, then the bags),
        for a caller that calibrates only what it reads (the batch router's fast lane:
        ``calibrate(shrunk[0])`` is ``candidates_at(...).p``, ``calibrate(shrunk[1:])`` its
        draws, column by column the same bits). ``cols``: int64 array, not empty."""
        Z, avg_z = self._log_odds_at(row, cols, hours)
        # ``1.0 - w`` per rep made once: gathered, the same bits as computed per call
        return Z * self._w[cols] + avg_z[:, None] * self._1mw[cols]

    def calibrate(self, z: NDF) -> NDF:
        """The model's calibration of log-odds ``z`` (elementwise: any shape)."""
        return np.asarray(self._fitted.calibrator.transform(z), dtype=np.float64)

    def _log_odds_at(self, row: int, idx: NDI, hours: NDF | None) -> tuple[NDF, NDF]:
        """Lead ``row``'s log-odds with the reps of columns ``idx`` at ``hours`` (models x
        candidates) and the average rep's at the candidates' mean time (models,)."""
        if hours is None:
            ttc = self._ttc_default[idx]
        else:
            if len(hours) != len(idx):
                raise ModelError(
                    f"expected_response_hours has {len(hours)} values for {len(idx)} reps",
                    hint="pass one expected response time per rep, in the order of rep_ids",
                )
            # ``np.clip(h, 0.0, None)`` is ``np.maximum(h, 0.0)`` (numpy's own ``_clip``)
            ttc = np.log1p(np.maximum(np.asarray(hours, dtype=np.float64), 0.0))
        old = self._ttc[idx]
        finite = len(ttc) > 0 and bool(np.isfinite(ttc).all())  # usual: two tests fewer below
        moved = (ttc != old).nonzero()[0]  # a NaN differs from itself here: kept below
        if len(moved) and not finite:
            both = np.isnan(ttc[moved]) & np.isnan(old[moved])
            if both.any():
                moved = moved[~both]
        # ``_mean_or_nan(ttc)``, its test of the values already made
        mean = float(np.add.reduce(ttc)) / ttc.shape[0] if finite else _mean_or_nan(ttc)
        same_mean = mean == self._full_mean or (math.isnan(mean) and math.isnan(self._full_mean))
        cached = None if same_mean else self._avg_cache.get((row, mean))
        if cached is None and not same_mean and self._pre is not None:
            cached = self._speculate(row, mean)
        if not len(moved) and (same_mean or cached is not None):
            return self._Z[:, row, idx], self._average(row, idx)
        # the moved pairs' rows, then the average rep's when it is not known: the batch's
        # rows with the new response time
        k = len(moved)
        extra = not (same_mean or cached is not None)
        where = np.empty(k + extra, dtype=np.int64)
        where[:k] = idx[moved]
        rows = np.empty((k + extra, self._X.shape[2]), dtype=self._X.dtype)
        rows[:k] = self._X[row, where[:k], :]
        rows[:k, self._ttc_pos] = ttc[moved]
        if extra:
            where[k] = self._n
            rows[k] = self._avg_rows[row]
            rows[k, self._ttc_pos] = mean
        new = self._log_odds(row, where, rows)
        Z = self._Z[:, row, idx]
        Z[:, moved] = new[:, : len(moved)]  # fancy indexing above made a copy
        if same_mean:
            avg_z = self._Z[:, row, self._n]
        elif cached is not None:
            avg_z = cached
        else:
            avg_z = self._avg_cache[(row, mean)] = new[:, len(moved)].copy()
            self.average_rows_scored += 1
        return Z, avg_z

    def _speculate(self, row: int, mean: float) -> NDF:
        """The average rep's log-odds of lead ``row`` at response time ``mean`` (models,),
        scored with the next ``AHEAD - 1`` leads' of the batch at the same mean in one
        call, all cached: the batch router asks for the leads in row order, and the
        candidates' mean time stays the same until a rep reaches a cap or a backlog moves,
        so most next leads find theirs (a miss costs one row of the call). Each row is
        scored on its own (the kept categorical part plus its numeric part and trees): the
        bits of scoring it alone."""
        stop = min(row + AHEAD, self._Z.shape[1])
        rows = [r for r in range(row, stop) if r == row or (r, mean) not in self._avg_cache]
        idx = np.asarray(rows, dtype=np.int64)
        X = self._avg_rows[idx]  # fancy index: a copy
        X[:, self._ttc_pos] = mean
        assert self._pre is not None
        z = self._fitted.glm.add_numeric(self._pre[:, idx, self._n], X)  # a copy too
        for booster in self._fitted.boosters:
            z += few_rows_raw(booster, X)[None, :]
        for j, r in enumerate(rows):
            self._avg_cache[(r, mean)] = z[:, j].copy()
        self.average_rows_scored += len(rows)
        return self._avg_cache[(row, mean)]

    def _log_odds(self, row: int, where: NDI, rows: NDF) -> NDF:
        """``raw_log_odds`` of ``rows``, lead ``row``'s rows of columns ``where`` (``n``: the
        average rep) with new numeric inputs: the kept categorical part plus the numeric
        part and the trees of the new rows, bit for bit ``raw_log_odds(rows)``."""
        fitted = self._fitted
        if self._pre is None:
            return raw_log_odds(fitted.glm, fitted.boosters, rows, n_jobs=self._n_jobs)
        z = fitted.glm.add_numeric(self._pre[:, row, where], rows)  # fancy index: a copy
        for booster in fitted.boosters:
            z += few_rows_raw(booster, rows)[None, :]
        return z

    def candidates(self, row: int, cols: Sequence[int]) -> CandidateScores:
        """The scores of lead ``row`` against the reps in columns ``cols``."""
        idx = np.asarray(cols, dtype=np.int64)
        if len(idx) == 0:
            return CandidateScores(p=np.empty(0), confidence=0.0, sufficiency=np.empty(0))
        return self._shrunk(self._Z[:, row, idx], self._average(row, idx), idx)

    def _shrunk(self, Z: NDF, avg: NDF, idx: NDI) -> CandidateScores:
        """Each candidate's log-odds ``Z`` (models x candidates) pulled toward the average
        rep's ``avg``, calibrated, with the confidence across the bags."""
        w = self._w[idx]
        Zs = Z * w + avg[:, None] * (1.0 - w)
        cal = self._fitted.calibrator
        P, p = cal.transform(Zs[1:]), cal.transform(Zs[0])
        conf = top_vs_pool(P, p)
        return CandidateScores(p=p, confidence=conf.probability, sufficiency=w, draws=P)


def contributions(
    glm: GLMStack, boosters: Sequence[Trees], feature_names: Sequence[str], X: NDF
) -> dict[str, NDF]:
    """Log-odds contribution of each input to the full model, per row: the linear part's
    terms plus the trees' SHAP values (LightGBM ``pred_contrib``)."""
    out = glm.term_contributions(X, model=0)
    for booster in boosters:
        shap = np.asarray(booster.predict(X, pred_contrib=True, num_threads=1))
        for j, name in enumerate(feature_names):
            out[name] = out.get(name, 0.0) + shap[:, j]
    return out
