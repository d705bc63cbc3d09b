"""The history as integer codes: reps, routing segments, dimension and covariate values."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["UNKNOWN", "Coded", "Layout", "encode", "segment_keys"]

UNKNOWN = "(unknown)"


def segment_keys(data: pd.DataFrame, dims: list[str]) -> pd.Series:
    """Routing segment of every lead: the values of ``dims`` joined by " / "."""
    if not dims:
        return pd.Series("all leads", index=data.index)
    parts = [data[d].astype("object").where(data[d].notna(), UNKNOWN).astype(str) for d in dims]
    key = parts[0]
    for p in parts[1:]:
        key = key + " / " + p
    return key


@dataclass(frozen=True)
class Coded:
    """The prepared history as integer codes, computed once and sliced for the folds.

    ``rep`` and ``seg`` index ``Layout.reps`` / ``Layout.segments`` (-1 = not on the
    roster); ``dim[d]`` indexes ``Layout.dim_values[d]``, ``cov[c]`` ``Layout.cov_values[c]``.
    """

    y: NDArray[np.float64]
    rep: NDArray[np.intp]
    seg: NDArray[np.intp]
    dim: list[NDArray[np.intp]]
    cov: list[NDArray[np.intp]] = field(default_factory=list)

    def rows(self, sel: slice | NDArray[np.intp]) -> Coded:
        """The same codes for a subset of leads."""
        return Coded(
            self.y[sel],
            self.rep[sel],
            self.seg[sel],
            [d[sel] for d in self.dim],
            [c[sel] for c in self.cov],
        )


@dataclass(frozen=True)
class Layout:
    """Reps, routing segments and the value of each dimension that makes up each segment;
    the values of the covariates (lead attributes the model adjusts for but does not route by)."""

    reps: list[str]
    segments: list[str]
    dim_values: list[list[str]]
    seg_value: list[NDArray[np.intp]]  # per dimension, shape (n_segments,)
    cov_values: list[list[str]] = field(default_factory=list)


def _codes(data: pd.DataFrame, col: str) -> tuple[list[str], NDArray[np.intp]]:
    values = data[col].astype("object").where(data[col].notna(), UNKNOWN).astype(str)
    levels = sorted(values.unique())
    return levels, pd.Index(levels).get_indexer(pd.Index(values))


def encode(
    data: pd.DataFrame, reps: list[str], dims: list[str], covariates: tuple[str, ...] = ()
) -> tuple[Coded, Layout]:
    """Integer codes of the leads' reps, routing segments, dimension and covariate values."""
    seg_of = segment_keys(data, dims)
    segments = sorted(seg_of.unique().astype(str))
    seg_codes = pd.Index(segments).get_indexer(pd.Index(seg_of))
    dim_values: list[list[str]] = []
    dim_codes: list[NDArray[np.intp]] = []
    seg_value: list[NDArray[np.intp]] = []
    parts = [s.split(" / ") for s in segments]
    for d_i, d in enumerate(dims):
        values, codes = _codes(data, d)
        dim_values.append(values)
        dim_codes.append(codes)
        seg_value.append(pd.Index(values).get_indexer(pd.Index([p[d_i] for p in parts])))
    cov_values: list[list[str]] = []
    cov_codes: list[NDArray[np.intp]] = []
    for c in covariates:
        if c in data.columns and data[c].notna().any():
            values, codes = _codes(data, c)
            cov_values.append(values)
            cov_codes.append(codes)
    coded = Coded(
        y=data["y"].to_numpy(float),
        rep=pd.Index(reps).get_indexer(pd.Index(data["rep"])),
        seg=seg_codes,
        dim=dim_codes,
        cov=cov_codes,
    )
    return coded, Layout(reps, segments, dim_values, seg_value, cov_values)
