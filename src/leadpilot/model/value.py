"""The deal-value model: E(value | converted lead, rep), learnt from history, with its
uncertainty (a :class:`~leadpilot.schema.ValueModel` for the router's value objectives).

* Deal size: a Bayesian linear regression of log(deal_value) over the converted leads whose
  value is known, on the lead (log company size, industry, region, source, product) and the
  rep (rep, and rep x company segment: SMB up to 200 employees, MidMarket up to 1000,
  Enterprise above). Categorical effects have a Gaussian prior (``PRIOR_SD`` in log units:
  ridge shrinkage, so a rep with three deals in a segment stays near the segment's level).
  E(deal) = exp(mu + sigma^2 / 2) (log-normal residuals); its 95% interval comes from the
  posterior of mu (Laplace-exact for a Gaussian model).
* ``won_revenue``: times P(win | opportunity), a ridge logistic regression with the same
  features over the opportunities whose outcome is known (Laplace approximation for its
  interval). The won-revenue interval combines the two intervals' ends (conservative).

Closed-form algebra instead of scikit-learn because the posterior covariance (the
uncertainty each estimate carries) is what the model is for, and sklearn's Ridge does not
give it; the logistic fit uses scipy's L-BFGS.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize

from leadpilot.errors import DataValidationError
from leadpilot.schema import Lead, ValueEstimates

__all__ = ["MIN_DEALS", "SEGMENTS", "SEGMENT_EDGES", "FittedValue", "fit_value_model"]

MIN_DEALS = 30
PRIOR_SD = 0.5  # log units: a rep x segment effect beyond x1.6 needs evidence
WIN_PRIOR_SD = 1.0  # log-odds
SEGMENTS: tuple[str, ...] = ("SMB", "MidMarket", "Enterprise")
SEGMENT_EDGES = (200.0, 1000.0)  # employees: the default policy's segments
_LEAD_COLUMNS: tuple[str, ...] = ("industry", "region", "source", "product")
_Z = 1.959963984540054
_MAX_PASSES = 200
# Residual sd of log(deal) at least 1%: real deal sizes always vary more, and below it the
# posterior precision (deals / sigma^2 against the flat prior of the intercept and size) is
# too ill-conditioned to invert (the fit oscillated on noise-free deals).
_MIN_VARIANCE = 1e-4
_FLAT = 1e-4  # prior precision of the unpenalised columns: sd 100 log units, in effect flat


def _segment(size: float | None) -> int:
    if size is None or math.isnan(size):
        return 0
    return int(np.searchsorted(SEGMENT_EDGES, size, side="left"))


@dataclass(frozen=True)
class _Design:
    """The columns of the regression: intercept, log size, unknown size, one column per
    level of each lead attribute, per rep, and per (rep, segment)."""

    levels: dict[str, tuple[str, ...]]
    reps: tuple[str, ...]
    size_fill: float

    @property
    def n_lead(self) -> int:
        return 3 + sum(len(v) for v in self.levels.values())

    @property
    def width(self) -> int:
        return self.n_lead + len(self.reps) * (1 + len(SEGMENTS))

    def penalised(self) -> NDArray[np.float64]:
        """1 for every column with the Gaussian prior (all but intercept and size)."""
        out = np.ones(self.width)
        out[:3] = 0.0
        return out

    def lead_rows(
        self, size: NDArray[np.float64], attrs: Mapping[str, Sequence[object]]
    ) -> NDArray[np.float64]:
        n = len(size)
        x = np.zeros((n, self.n_lead))
        x[:, 0] = 1.0
        unknown = ~(size >= 1)
        x[:, 1] = np.where(unknown, self.size_fill, np.log(np.where(unknown, 1.0, size)))
        x[:, 2] = unknown
        col = 3
        for name, levels in self.levels.items():
            index: dict[object, int] = {v: k for k, v in enumerate(levels)}
            for i, value in enumerate(attrs[name]):
                k = index.get(value)
                if k is not None:
                    x[i, col + k] = 1.0
            col += len(levels)
        return x

    def rep_columns(self, rep: str, segment: int) -> tuple[int, int] | None:
        """The rep's and the (rep, segment) column, or ``None`` for an unknown rep."""
        try:
            r = self.reps.index(rep)
        except ValueError:
            return None
        base = self.n_lead + r * (1 + len(SEGMENTS))
        return base, base + 1 + segment


def _lead_attrs(leads: Sequence[Lead]) -> tuple[NDArray[np.float64], dict[str, list[object]]]:
    size = np.array(
        [lead.company_size if lead.company_size is not None else np.nan for lead in leads],
        dtype=float,
    )
    return size, {name: [getattr(lead, name) for lead in leads] for name in _LEAD_COLUMNS}


@dataclass(frozen=True)
class _Gaussian:
    """Posterior of a linear predictor: mean coefficients and their covariance."""

    coef: NDArray[np.float64]
    cov: NDArray[np.float64]


@dataclass(frozen=True)
class FittedValue:
    """A fitted deal-value model (see the module docstring): a ``schema.ValueModel``."""

    design: _Design
    deal: _Gaussian
    sigma: float  # residual sd of log(deal)
    win: _Gaussian | None
    n_deals: int
    n_closed: int
    mean_deal: float
    win_rate: float | None

    @property
    def version(self) -> str:
        """A content hash of the coefficients."""
        digest = hashlib.sha256(self.deal.coef.tobytes())
        if self.win is not None:
            digest.update(self.win.coef.tobytes())
        return "value-" + digest.hexdigest()[:10]

    def to_json(self) -> tuple[dict[str, Any], dict[str, NDArray[np.float64]]]:
        """The model as a JSON document and its arrays (``model.value_artifacts`` saves
        them beside the conversion model)."""
        doc = {
            "version": self.version,
            "levels": {k: list(v) for k, v in self.design.levels.items()},
            "reps": list(self.design.reps),
            "size_fill": self.design.size_fill,
            "sigma": self.sigma,
            "n_deals": self.n_deals,
            "n_closed": self.n_closed,
            "mean_deal": self.mean_deal,
            "win_rate": self.win_rate,
        }
        arrays = {"deal_coef": self.deal.coef, "deal_cov": self.deal.cov}
        if self.win is not None:
            arrays |= {"win_coef": self.win.coef, "win_cov": self.win.cov}
        return doc, arrays

    @classmethod
    def from_json(
        cls, doc: Mapping[str, Any], arrays: Mapping[str, NDArray[np.float64]]
    ) -> FittedValue:
        """The model :meth:`to_json` wrote (``KeyError``/``ValueError`` when malformed)."""
        design = _Design(
            {str(k): tuple(str(x) for x in v) for k, v in doc["levels"].items()},
            tuple(str(r) for r in doc["reps"]),
            float(doc["size_fill"]),
        )
        shapes = (design.width,), (design.width, design.width)

        def gaussian(name: str) -> _Gaussian:
            coef, cov = (np.asarray(arrays[f"{name}_{k}"], dtype=np.float64)
                         for k in ("coef", "cov"))  # fmt: skip
            if (coef.shape, cov.shape) != shapes:
                raise ValueError(f"{name} arrays do not fit the design ({design.width} columns)")
            return _Gaussian(coef, cov)

        win_rate = doc.get("win_rate")
        return cls(
            design=design,
            deal=gaussian("deal"),
            sigma=float(doc["sigma"]),
            win=gaussian("win") if "win_coef" in arrays else None,
            n_deals=int(doc["n_deals"]),
            n_closed=int(doc["n_closed"]),
            mean_deal=float(doc["mean_deal"]),
            win_rate=None if win_rate is None else float(win_rate),
        )

    def typical_value(self, objective: str) -> float:
        """The average deal of the history (times the win rate for ``won_revenue``)."""
        if objective == "won_revenue":
            self._need_win()
            return self.mean_deal * float(self.win_rate or 0.0)
        return self.mean_deal

    def values(self, lead: Lead, rep_ids: Sequence[str], objective: str) -> ValueEstimates:
        """E(value) of ``lead`` with each rep and its 95% interval."""
        x = self._rows(lead, rep_ids)
        mu = x @ self.deal.coef
        se = np.sqrt(np.einsum("ij,jk,ik->i", x, self.deal.cov, x) + self._unknown(rep_ids))
        half = self.sigma**2 / 2
        mean, low, high = (
            np.exp(mu + half),
            np.exp(mu - _Z * se + half),
            np.exp(mu + _Z * se + half),
        )
        if objective == "won_revenue":
            win = self._need_win()
            eta = x @ win.coef
            wse = np.sqrt(np.einsum("ij,jk,ik->i", x, win.cov, x) + self._unknown(rep_ids, True))
            mean = mean * _sigmoid(eta)
            low, high = low * _sigmoid(eta - _Z * wse), high * _sigmoid(eta + _Z * wse)
        return ValueEstimates(mean=mean, low=low, high=high)

    def value_batch(
        self, leads: Sequence[Lead], rep_ids: Sequence[str], objective: str
    ) -> NDArray[np.float64]:
        """E(value) of every lead with every rep, shape ``(n_leads, n_reps)``."""
        size, attrs = _lead_attrs(leads)
        lead_x = self.design.lead_rows(size, attrs)
        seg = np.array([_segment(s) for s in size], dtype=int)
        out = self._linear(lead_x, seg, rep_ids, self.deal.coef) + self.sigma**2 / 2
        value = np.exp(out)
        if objective == "won_revenue":
            value = value * _sigmoid(self._linear(lead_x, seg, rep_ids, self._need_win().coef))
        return value

    def _linear(
        self,
        lead_x: NDArray[np.float64],
        seg: NDArray[np.intp],
        rep_ids: Sequence[str],
        coef: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        base = lead_x @ coef[: self.design.n_lead]
        out = np.repeat(base[:, None], len(rep_ids), axis=1)
        for j, rep in enumerate(rep_ids):
            cols = [self.design.rep_columns(rep, k) for k in range(len(SEGMENTS))]
            if cols[0] is None:
                continue
            effect = np.array([coef[c[0]] + coef[c[1]] for c in cols if c is not None])
            out[:, j] += effect[seg]
        return out

    def _rows(self, lead: Lead, rep_ids: Sequence[str]) -> NDArray[np.float64]:
        size, attrs = _lead_attrs([lead])
        lead_x = self.design.lead_rows(size, attrs)[0]
        x = np.zeros((len(rep_ids), self.design.width))
        x[:, : self.design.n_lead] = lead_x
        seg = _segment(lead.company_size)
        for j, rep in enumerate(rep_ids):
            cols = self.design.rep_columns(rep, seg)
            if cols is not None:
                x[j, list(cols)] = 1.0
        return x

    def _unknown(self, rep_ids: Sequence[str], win: bool = False) -> NDArray[np.float64]:
        """The prior variance of the rep and rep x segment effects of reps the history does
        not know (their effects are the prior's 0, with the prior's spread)."""
        sd = WIN_PRIOR_SD if win else PRIOR_SD
        return np.array([0.0 if r in self.design.reps else 2 * sd**2 for r in rep_ids])

    def _need_win(self) -> _Gaussian:
        if self.win is None:
            raise DataValidationError(
                f"the objective won_revenue needs closed opportunities with known outcomes; "
                f"the history has {self.n_closed} (at least {MIN_DEALS} with both wins and "
                "losses)",
                hint="use objective: pipeline_value, or a history with closed_won filled in",
            )
        return self.win


def fit_value_model(history: pd.DataFrame) -> FittedValue:
    """Fit the deal-value model on a canonical history frame (``schema.HISTORY_COLUMNS``):
    deal size on converted leads with a ``deal_value`` > 0, P(win | opportunity) on
    converted leads whose ``closed_won`` is known. Raises ``DataValidationError`` when fewer
    than ``MIN_DEALS`` deals have a value."""
    converted = history["converted"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    value = pd.to_numeric(history["deal_value"], errors="coerce").to_numpy(dtype=float)
    has_rep = history["rep_id"].notna().to_numpy()
    deals = converted & has_rep & (value > 0)
    if deals.sum() < MIN_DEALS:
        raise DataValidationError(
            f"a value objective needs at least {MIN_DEALS} converted leads with a deal_value "
            f"and a rep; the history has {int(deals.sum())}",
            hint="map the export's amount column to deal_value, or use objective: conversions",
        )
    size_all = pd.to_numeric(history["company_size"], errors="coerce").to_numpy(dtype=float)
    frame = history.loc[deals]
    levels = {
        name: tuple(sorted(str(v) for v in frame[name].dropna().unique())) for name in _LEAD_COLUMNS
    }
    reps = tuple(sorted(str(r) for r in frame["rep_id"].unique()))
    known = size_all[deals][size_all[deals] >= 1]
    design = _Design(levels, reps, float(np.median(np.log(known))) if len(known) else 0.0)
    x_all = _history_rows(design, history, size_all)
    deal, sigma = _fit_log_deal(x_all[deals], np.log(value[deals]), design.penalised())
    won = history["closed_won"].astype("boolean")
    closed = converted & has_rep & won.notna().to_numpy()
    y_win = won.fillna(False).to_numpy(dtype=bool)[closed]
    win = None
    if closed.sum() >= MIN_DEALS and 0 < y_win.sum() < len(y_win):
        win = _fit_logistic(x_all[closed], y_win.astype(float), design.penalised())
    return FittedValue(
        design=design,
        deal=deal,
        sigma=sigma,
        win=win,
        n_deals=int(deals.sum()),
        n_closed=int(closed.sum()),
        mean_deal=float(value[deals].mean()),
        win_rate=float(y_win.mean()) if len(y_win) else None,
    )


def _history_rows(
    design: _Design, history: pd.DataFrame, size: NDArray[np.float64]
) -> NDArray[np.float64]:
    attrs = {name: list(history[name].astype(object)) for name in _LEAD_COLUMNS}
    lead_x = design.lead_rows(size, attrs)
    x = np.zeros((len(history), design.width))
    x[:, : design.n_lead] = lead_x
    for i, (rep, s) in enumerate(zip(history["rep_id"], size, strict=True)):
        if rep is None or (isinstance(rep, float) and math.isnan(rep)):
            continue
        cols = design.rep_columns(str(rep), _segment(float(s)))
        if cols is not None:
            x[i, list(cols)] = 1.0
    return x


def _fit_log_deal(
    x: NDArray[np.float64], y: NDArray[np.float64], penalised: NDArray[np.float64]
) -> tuple[_Gaussian, float]:
    """Bayesian ridge with a fixed prior sd and the residual variance estimated (the
    variance sets the ridge's strength, the fit sets the variance: iterated to their fixed
    point; three passes left sigma at 0.5 instead of ~0 on 120 noise-free deals, which
    inflated E(deal) = exp(mu + sigma^2 / 2) by 1.9x)."""
    sigma2 = float(np.var(y)) or 1.0
    xtx, xty = x.T @ x, x.T @ y
    prior = np.diag(penalised / PRIOR_SD**2 + (1 - penalised) * _FLAT)
    for _ in range(_MAX_PASSES):
        cov = np.linalg.inv(xtx / sigma2 + prior)
        coef = cov @ xty / sigma2
        resid = y - x @ coef
        dof = max(len(y) - float(np.trace(xtx @ cov)) / sigma2, 1.0)
        previous, sigma2 = sigma2, max(float(resid @ resid / dof), _MIN_VARIANCE)
        if abs(sigma2 - previous) <= 1e-6 * previous:
            break
    cov = np.linalg.inv(xtx / sigma2 + prior)
    coef = cov @ xty / sigma2
    return _Gaussian(coef, np.asarray(cov, dtype=np.float64)), math.sqrt(sigma2)


def _fit_logistic(
    x: NDArray[np.float64], y: NDArray[np.float64], penalised: NDArray[np.float64]
) -> _Gaussian:
    """Ridge logistic regression (MAP) and its Laplace covariance."""
    prior = penalised / WIN_PRIOR_SD**2 + (1 - penalised) * 1e-6

    def loss(beta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        eta = x @ beta
        nll = float(np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * beta @ (prior * beta))
        grad = x.T @ (_sigmoid(eta) - y) + prior * beta
        return nll, grad

    res = optimize.minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B")
    p = _sigmoid(x @ res.x)
    hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(prior)
    return _Gaussian(res.x, np.asarray(np.linalg.inv(hessian), dtype=np.float64))


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))
