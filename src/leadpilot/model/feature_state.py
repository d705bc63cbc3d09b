"""What feature engineering learns from a history (:class:`FeatureState`): category
levels, extra columns, and per-rep / per-segment counts as of the end of the history, with the
numpy gathers that build a rep's feature block at scoring time."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

_MANY_REPS = 10_000  # rows from which ``rep_indices`` looks up distinct values only

__all__ = [
    "LEAD_CATEGORICALS",
    "LEAD_NUMERICS",
    "MAX_EXTRA_LEVELS",
    "NDF",
    "NDI",
    "NOT_FEATURES",
    "REP_CATEGORICALS",
    "REP_NUMERICS",
    "SEGMENTS",
    "FeatureState",
    "sanitize",
]

LEAD_CATEGORICALS: tuple[str, ...] = (
    "source",
    "industry",
    "size_band",
    "region",
    "country",
    "product",
)
# Segments whose rep x segment track record becomes a feature (and a baseline, and a reason).
SEGMENTS: tuple[str, ...] = ("industry", "size_band", "source", "region", "product")
REP_CATEGORICALS: tuple[str, ...] = ("rep_id", "rep_role", "rep_pool")
LEAD_NUMERICS: tuple[str, ...] = (
    "log_company_size",
    "log_annual_revenue",
    "engagement_score",
    "created_hour",
    "created_weekday",
    "log_time_to_contact",
    "company_domain",
)
REP_NUMERICS: tuple[str, ...] = (
    "rep_tenure_days",
    "rep_log_volume",
    "rep_rate",
    "rep_covers_industry",
    "rep_covers_region",
)
# Columns that never become features: identities, free text, outcomes and their timestamps.
NOT_FEATURES = frozenset(
    {
        "lead_id",
        "email",
        "company",
        "domain",
        "external_id",
        "title",
        "first_contact_at",
        "converted",
        "converted_at",
        "closed_won",
        "closed_at",
        "deal_value",
        "source_row",
        "created_at",
        "state",
        "language",
    }
)
MAX_EXTRA_LEVELS = 50
NDF = NDArray[np.float64]
NDI = NDArray[np.int64]


def sanitize(name: str) -> str:
    """Feature name of an extra column (ingest's ``keep_extra`` already prefixes ``x_``)."""
    clean = re.sub(r"[^0-9A-Za-z_]", "_", str(name))
    return clean if clean.startswith("x_") else "x_" + clean


@dataclass
class FeatureState:
    """What feature engineering learned from a history: category levels, the extra columns it
    uses, and per-rep / per-segment counts as of the end of the history (for scoring)."""

    target: str
    shrinkage: float
    levels: dict[str, list[str]]
    extra_categoricals: list[str]
    extra_numerics: list[str]
    rep_ids: list[str]
    rep_role: NDF  # (n_reps + 1,) category codes, NaN unknown; last row = unknown rep
    rep_pool: NDF
    rep_start_day: NDF  # days since epoch, NaN unknown
    rep_industries: list[list[str]]  # declared specialisations ([] = none declared)
    rep_regions: list[list[str]]
    rep_volume: NDF  # all leads handled
    rep_n: NDF  # labelled leads
    rep_k: NDF  # conversions
    rep_ttc_median: NDF  # hours; NaN when never measured
    global_n: float
    global_k: float
    seg_n: dict[str, NDF] = field(default_factory=dict)  # (n_levels + 1,)
    seg_k: dict[str, NDF] = field(default_factory=dict)
    rep_seg_n: dict[str, NDF] = field(default_factory=dict)  # (n_reps + 1, n_levels + 1)
    rep_seg_k: dict[str, NDF] = field(default_factory=dict)
    end_day: float = math.nan  # last created_at of the history, days since epoch

    # ----- derived, not stored -------------------------------------------------------------
    def __post_init__(self) -> None:
        self._index = {
            name: {v: i for i, v in enumerate(vals)} for name, vals in self.levels.items()
        }
        self._rep_index = {r: i for i, r in enumerate(self.rep_ids)}
        self._covers_ind = _covers(self.rep_industries, self.levels["industry"])
        self._covers_reg = _covers(self.rep_regions, self.levels["region"])

    @property
    def feature_names(self) -> list[str]:
        """Model input columns, in matrix order."""
        names = list(LEAD_CATEGORICALS) + [sanitize(c) for c in self.extra_categoricals]
        names += list(REP_CATEGORICALS)
        names += list(LEAD_NUMERICS) + [sanitize(c) for c in self.extra_numerics]
        names += list(REP_NUMERICS)
        for s in SEGMENTS:
            names += [f"rep_x_{s}_rate", f"rep_x_{s}_lift", f"rep_x_{s}_log_n"]
        return names

    @property
    def categorical_names(self) -> list[str]:
        return (
            list(LEAD_CATEGORICALS)
            + [sanitize(c) for c in self.extra_categoricals]
            + list(REP_CATEGORICALS)
        )

    @property
    def n_reps(self) -> int:
        return len(self.rep_ids)

    def code(self, name: str, value: Any) -> float:
        """Category code of ``value`` in ``name`` (NaN for missing or unseen)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return math.nan
        i = self._index[name].get(str(value))
        return math.nan if i is None else float(i)

    def rep_indices(self, rep_ids: Sequence[Any]) -> NDI:
        """Row of each rep in the per-rep arrays; unknown reps map to the last (empty) row."""
        unknown = len(self.rep_ids)
        get = self._rep_index.get
        if len(rep_ids) < _MANY_REPS:
            return np.fromiter((get(str(r), unknown) for r in rep_ids), np.int64, len(rep_ids))
        # A history: each distinct text looked up once (pandas' ``astype(str)`` is ``str``
        # of each value, as above).
        import pandas as pd

        text = pd.Series(rep_ids, dtype=object).astype(str).to_numpy(dtype=object)
        codes, uniques = pd.factorize(text)
        table = np.fromiter((get(r, unknown) for r in uniques), np.int64, len(uniques))
        return np.asarray(table[codes], dtype=np.int64)

    def rep_sufficiency(self, rep_idx: NDI, prior: float) -> NDF:
        """n / (n + prior) per rep: how much labelled history backs each rep's score."""
        n = self.rep_n[rep_idx]
        return n / (n + prior)

    # ----- JSON -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        def arr(a: NDF) -> list[float | None]:
            return [None if math.isnan(x) else float(x) for x in a.ravel()]

        return {
            "target": self.target,
            "shrinkage": self.shrinkage,
            "levels": self.levels,
            "extra_categoricals": self.extra_categoricals,
            "extra_numerics": self.extra_numerics,
            "rep_ids": self.rep_ids,
            "rep_role": arr(self.rep_role),
            "rep_pool": arr(self.rep_pool),
            "rep_start_day": arr(self.rep_start_day),
            "rep_industries": self.rep_industries,
            "rep_regions": self.rep_regions,
            "rep_volume": arr(self.rep_volume),
            "rep_n": arr(self.rep_n),
            "rep_k": arr(self.rep_k),
            "rep_ttc_median": arr(self.rep_ttc_median),
            "global_n": self.global_n,
            "global_k": self.global_k,
            "seg_n": {s: arr(v) for s, v in self.seg_n.items()},
            "seg_k": {s: arr(v) for s, v in self.seg_k.items()},
            "rep_seg_n": {s: arr(v) for s, v in self.rep_seg_n.items()},
            "rep_seg_k": {s: arr(v) for s, v in self.rep_seg_k.items()},
            "end_day": None if math.isnan(self.end_day) else self.end_day,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FeatureState:
        """Rebuild from :meth:`to_json`; raises ``KeyError``/``ValueError`` on a bad document."""

        def arr(v: Any, shape: tuple[int, ...] | None = None) -> NDF:
            a = np.array([math.nan if x is None else x for x in v], dtype=np.float64)
            return a.reshape(shape) if shape else a

        levels = {k: [str(x) for x in v] for k, v in d["levels"].items()}
        n_reps = len(d["rep_ids"])
        rep_seg_n = {s: arr(v, (n_reps + 1, len(levels[s]) + 1)) for s, v in d["rep_seg_n"].items()}
        rep_seg_k = {s: arr(v, (n_reps + 1, len(levels[s]) + 1)) for s, v in d["rep_seg_k"].items()}
        state = cls(
            target=str(d["target"]),
            shrinkage=float(d["shrinkage"]),
            levels=levels,
            extra_categoricals=list(d["extra_categoricals"]),
            extra_numerics=list(d["extra_numerics"]),
            rep_ids=[str(r) for r in d["rep_ids"]],
            rep_role=arr(d["rep_role"]),
            rep_pool=arr(d["rep_pool"]),
            rep_start_day=arr(d["rep_start_day"]),
            rep_industries=[list(x) for x in d["rep_industries"]],
            rep_regions=[list(x) for x in d["rep_regions"]],
            rep_volume=arr(d["rep_volume"]),
            rep_n=arr(d["rep_n"]),
            rep_k=arr(d["rep_k"]),
            rep_ttc_median=arr(d["rep_ttc_median"]),
            global_n=float(d["global_n"]),
            global_k=float(d["global_k"]),
            seg_n={s: arr(v) for s, v in d["seg_n"].items()},
            seg_k={s: arr(v) for s, v in d["seg_k"].items()},
            rep_seg_n=rep_seg_n,
            rep_seg_k=rep_seg_k,
            end_day=math.nan if d.get("end_day") is None else float(d["end_day"]),
        )
        for name in (*LEAD_CATEGORICALS, *REP_CATEGORICALS):
            if name not in state.levels:
                raise ValueError(f"missing category levels for {name!r}")
        if any(len(a) != n_reps + 1 for a in (state.rep_n, state.rep_k, state.rep_volume)):
            raise ValueError("per-rep arrays do not match the number of reps")
        return state

    # ----- scoring-time blocks ----------------------------------------------------------
    def covers_industry(self, rep_idx: NDI, industry_code: NDF) -> NDF:
        """1 / 0 whether each rep declares the industry a specialty, NaN if it declares none."""
        return _cover_lookup(self._covers_ind, rep_idx, industry_code)

    def covers_region(self, rep_idx: NDI, region_code: NDF) -> NDF:
        """1 / 0 whether each rep covers the region, NaN if it declares none."""
        return _cover_lookup(self._covers_reg, rep_idx, region_code)

    def rep_block(
        self,
        rep_idx: NDI,
        seg_codes: Mapping[str, NDI],
        industry_code: NDF,
        region_code: NDF,
        created_day: NDF,
    ) -> dict[str, NDF]:
        """Rep-dependent feature columns as of the end of history (numpy gathers only).

        ``seg_codes[s]`` holds the lead's level index per row (``n_levels`` = unknown),
        broadcastable against ``rep_idx``.
        """
        m = self.shrinkage
        g = (self.global_k + 1.0) / (self.global_n + 2.0)
        n = self.rep_n[rep_idx]
        rep_rate = (self.rep_k[rep_idx] + m * g) / (n + m)
        cols: dict[str, NDF] = {
            "rep_id": np.where(rep_idx < self.n_reps, rep_idx, np.nan).astype(np.float64),
            "rep_role": self.rep_role[rep_idx],
            "rep_pool": self.rep_pool[rep_idx],
            "rep_tenure_days": created_day - self.rep_start_day[rep_idx],
            "rep_log_volume": np.log1p(self.rep_volume[rep_idx]),
            "rep_rate": rep_rate,
            "rep_covers_industry": self.covers_industry(rep_idx, industry_code),
            "rep_covers_region": self.covers_region(rep_idx, region_code),
        }
        for s in SEGMENTS:
            c = seg_codes[s]
            sn, sk = self.seg_n[s][c], self.seg_k[s][c]
            seg_rate = (sk + m * g) / (sn + m)
            rn, rk = self.rep_seg_n[s][rep_idx, c], self.rep_seg_k[s][rep_idx, c]
            rs_rate = (rk + m * rep_rate) / (rn + m)
            cols[f"rep_x_{s}_rate"] = rs_rate
            cols[f"rep_x_{s}_lift"] = rs_rate - seg_rate
            cols[f"rep_x_{s}_log_n"] = np.log1p(rn)
        return cols


def _covers(declared: list[list[str]], levels: list[str]) -> NDF:
    """(n_reps + 1, n_levels + 1) matrix: 1 if the rep declares the level, 0 if it declares
    others, NaN if it declares none (or the level is unknown)."""
    out = np.full((len(declared) + 1, len(levels) + 1), np.nan)
    idx = {v.lower(): i for i, v in enumerate(levels)}
    for r, vals in enumerate(declared):
        if not vals:
            continue
        out[r, : len(levels)] = 0.0
        for v in vals:
            i = idx.get(v.strip().lower())
            if i is not None:
                out[r, i] = 1.0
    return out


def _cover_lookup(table: NDF, rep_idx: NDI, code: NDF) -> NDF:
    c = np.where(np.isnan(code), table.shape[1] - 1, code).astype(np.int64)
    return table[rep_idx, c]
