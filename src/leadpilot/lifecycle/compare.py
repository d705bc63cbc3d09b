"""Champion against challenger on the same most recent held-out leads.

Both models score the latest settled leads, which neither learned from (the challenger
is trained on the leads before them for this test). Reported with 95% bootstrap intervals
(resampling the held-out leads once for both models, so their shared noise cancels): AUC,
log loss, calibration error, and the doubly robust estimate of the conversion rate of
routing each held-out lead to the rep the model scores highest (self-normalised, with
logged propensities where the service logged them, else the fitted assignment model's).
The challenger is promoted unless it is worse beyond noise on any of them.

The held-out rows may repeat leads (inverse-propensity weights as row counts,
:mod:`leadpilot.copies`): the point figures weight each lead by its copies, and the
bootstrap draws leads, not rows, so a lead kept five times is one outcome's worth of
evidence (drawing rows had made the intervals about 1.8 times too narrow on a drift
retrain's 529 rows of 207 leads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from leadpilot.copies import LeadBootstrap, lead_groups
from leadpilot.evaluate.ope.propensity import LoggingPolicyModel, clip_propensity
from leadpilot.model.metrics import auc_difference, metrics

if TYPE_CHECKING:
    from leadpilot.model import ConversionModel

__all__ = ["Comparison", "compare_models", "holdout_split"]

NDF = np.ndarray
_PSCORE_FLOOR = 0.02
_N_BOOT = 400
_MAX_SCORED_LEADS = 4_000  # the DR value scores every (lead, rep) pair of the held-out slice


@dataclass
class Comparison:
    """Both models' held-out figures, the paired differences, and the verdict."""

    n_holdout: int  # rows
    holdout_from: str
    holdout_to: str
    champion: dict[str, float]
    challenger: dict[str, float]
    differences: dict[str, float]  # challenger minus champion, with 95% intervals
    dr: dict[str, dict[str, float]]  # {"champion": {rate, low, high}, "challenger": ...}
    promote: bool
    reasons: list[str] = field(default_factory=list)
    n_holdout_leads: int = 0  # distinct leads of those rows

    def reason(self) -> str:
        """One sentence: why promoted or kept."""
        return "; ".join(self.reasons)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "n_holdout": self.n_holdout,
            "n_holdout_leads": self.n_holdout_leads,
            "holdout_from": self.holdout_from,
            "holdout_to": self.holdout_to,
            "champion": self.champion,
            "challenger": self.challenger,
            "differences": self.differences,
            "dr": self.dr,
            "promote": self.promote,
            "reason": self.reason(),
        }


def holdout_split(frame: pd.DataFrame, fraction: float, minimum: int) -> pd.Timestamp:
    """The creation time from which the latest ``fraction`` of labelled leads (at least
    ``minimum``) is held out."""
    lab = frame[frame["converted"].notna()].sort_values("created_at", kind="stable")
    n = min(len(lab) // 2, max(minimum, round(len(lab) * fraction)))
    return pd.Timestamp(lab["created_at"].iloc[len(lab) - n])


def _paired_logloss(
    y: NDF, a: NDF, b: NDF, rng: np.random.Generator, boot: LeadBootstrap
) -> tuple[float, ...]:
    def ll(p: NDF) -> NDF:
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return np.asarray(-(y * np.log(p) + (1 - y) * np.log(1 - p)))

    d = ll(a) - ll(b)
    draws = np.array([d[boot.draw(rng)].mean() for _ in range(_N_BOOT)])
    low, high = np.quantile(draws, [0.025, 0.975])
    return float(d.mean()), float(low), float(high)


def _score_matrix(model: ConversionModel, leads: pd.DataFrame, reps: list[str]) -> NDF:
    pairs = leads.loc[leads.index.repeat(len(reps))].copy()
    pairs["rep_id"] = np.tile(np.array(reps, dtype=object), len(leads))
    pairs = pairs.drop(columns=["time_to_contact_hours"], errors="ignore")
    return np.asarray(model.predict_proba(pairs.reset_index(drop=True))).reshape(
        len(leads), len(reps)
    )


def _dr_values(
    champion: ConversionModel,
    challenger: ConversionModel,
    before: pd.DataFrame,
    held: pd.DataFrame,
    logged_pscore: NDF,
) -> tuple[dict[str, dict[str, float]], tuple[float, float, float]]:
    held = held.tail(_MAX_SCORED_LEADS)
    logged_pscore = logged_pscore[-len(held) :]
    boot = LeadBootstrap(lead_groups(held["lead_id"]))
    reps = sorted(held["rep_id"].astype(str).unique())
    action = np.searchsorted(np.array(reps), held["rep_id"].astype(str).to_numpy())
    logging = LoggingPolicyModel(owner_column=None).fit(pd.concat([before.tail(20_000), held]))
    cols = [logging.reps_.index(r) for r in reps]
    p_log = logging.predict_proba(held)[:, cols]
    p_log = p_log / np.maximum(p_log.sum(axis=1, keepdims=True), 1e-12)
    estimated = p_log[np.arange(len(held)), action]
    pscore = np.where(np.isnan(logged_pscore), estimated, logged_pscore)
    pscore = clip_propensity(pscore, _PSCORE_FLOOR)
    reward = held["converted"].to_numpy(dtype=np.float64)
    s_champ = _score_matrix(champion, held, reps)
    s_chall = _score_matrix(challenger, held, reps)
    outcome_model = (s_champ + s_chall) / 2  # neither model's own view: no home advantage
    rows = np.arange(len(held))
    logged_q = outcome_model[rows, action]
    parts = {}
    for name, s in (("champion", s_champ), ("challenger", s_chall)):
        pick = np.argmax(s, axis=1)
        parts[name] = (outcome_model[rows, pick], (pick == action) / pscore)
    rng = np.random.default_rng(1)
    draws = {name: np.empty(_N_BOOT) for name in parts}
    for b in range(_N_BOOT):
        idx = boot.draw(rng)
        for name, (q_pi, w) in parts.items():
            draws[name][b] = _sndr(q_pi, w, reward, logged_q, idx)
    out: dict[str, dict[str, float]] = {}
    for name, (q_pi, w) in parts.items():
        low_, high_ = np.quantile(draws[name], [0.025, 0.975])
        rate = _sndr(q_pi, w, reward, logged_q, rows)
        out[name] = {"rate": rate, "low": float(low_), "high": float(high_)}
    d = draws["challenger"] - draws["champion"]
    low, high = np.quantile(d, [0.025, 0.975])
    point = out["challenger"]["rate"] - out["champion"]["rate"]
    return out, (point, float(low), float(high))


def _sndr(q_pi: NDF, w: NDF, reward: NDF, logged_q: NDF, idx: NDF) -> float:
    """Self-normalised doubly robust value over leads ``idx``: the outcome model's
    conversion of the policy's picks, corrected by the weighted residuals of the leads
    whose logged rep is the pick, divided by the sum of their weights rather than by n.
    Why not the plain DR estimator (``evaluate.ope``): with 20% exploration over many reps
    a few weights near 1/0.03 made it swing below 0% and above 100% on a few hundred
    leads; self-normalising keeps it a rate, at a small bias."""
    wi = w[idx]
    total = float(wi.sum())
    correction = float((wi * (reward[idx] - logged_q[idx])).sum()) / total if total > 0 else 0.0
    return float(np.clip(q_pi[idx].mean() + correction, 0.0, 1.0))


def compare_models(
    champion: ConversionModel,
    challenger: ConversionModel,
    before: pd.DataFrame,
    held: pd.DataFrame,
    *,
    logged_pscore: NDF | None = None,
) -> Comparison:
    """Score ``held`` (labelled, after everything ``challenger`` learned from) with both
    models and decide. ``before``: the leads before it (to model the assignment where no
    propensity was logged); ``logged_pscore``: the service's logged propensity of each
    held-out lead's rep (NaN where none was logged)."""
    y = held["converted"].to_numpy(dtype=np.float64)
    pairs = held.drop(columns=["time_to_contact_hours"], errors="ignore")
    p_champ = np.asarray(champion.predict_proba(pairs))
    p_chall = np.asarray(challenger.predict_proba(pairs))
    m_champ, m_chall = metrics(y, p_champ), metrics(y, p_chall)
    rng = np.random.default_rng(0)
    groups = lead_groups(held["lead_id"])
    n_leads = int(groups.max()) + 1 if len(groups) else 0
    auc = auc_difference(y, p_chall, p_champ, n_boot=_N_BOOT, groups=groups)
    ll = _paired_logloss(y, p_chall, p_champ, rng, LeadBootstrap(groups))
    pscore = logged_pscore if logged_pscore is not None else np.full(len(held), np.nan)
    dr, dr_diff = _dr_values(champion, challenger, before, held, pscore)
    diffs = {
        "auc": auc["auc_diff"],
        "auc_low": auc["auc_diff_low"],
        "auc_high": auc["auc_diff_high"],
        "log_loss": ll[0],
        "log_loss_low": ll[1],
        "log_loss_high": ll[2],
        "ece": m_chall["ece"] - m_champ["ece"],
        "dr_value": dr_diff[0],
        "dr_value_low": dr_diff[1],
        "dr_value_high": dr_diff[2],
    }
    reasons: list[str] = []
    worse = []
    if diffs["auc_high"] < 0:
        worse.append(
            f"ranks worse: AUC {m_chall['auc']:.3f} vs {m_champ['auc']:.3f} (difference "
            f"{diffs['auc']:+.3f}, 95% interval {diffs['auc_low']:+.3f} to "
            f"{diffs['auc_high']:+.3f})"
        )
    if diffs["log_loss_low"] > 0:
        worse.append(
            f"predicts worse: log loss {m_chall['log_loss']:.4f} vs {m_champ['log_loss']:.4f} "
            f"(difference {diffs['log_loss']:+.4f}, 95% interval {diffs['log_loss_low']:+.4f} "
            f"to {diffs['log_loss_high']:+.4f})"
        )
    if diffs["dr_value_high"] < 0:
        worse.append(
            f"routes worse: estimated conversion {dr['challenger']['rate']:.1%} vs "
            f"{dr['champion']['rate']:.1%} (difference {diffs['dr_value']:+.1%}, 95% interval "
            f"{diffs['dr_value_low']:+.1%} to {diffs['dr_value_high']:+.1%})"
        )
    if challenger.fitted_.routing_block:
        worse.append(f"fails its own training check: {challenger.fitted_.routing_block}")
    if worse:
        reasons.append("challenger rejected, the champion stays: it " + "; it ".join(worse))
    else:
        reasons.append(
            "challenger promoted: not worse beyond noise on the latest "
            f"{_leads(n_leads, len(held))} (AUC {m_chall['auc']:.3f} vs {m_champ['auc']:.3f}, "
            f"difference 95% interval {diffs['auc_low']:+.3f} to {diffs['auc_high']:+.3f}; "
            f"log loss {diffs['log_loss']:+.4f} ({diffs['log_loss_low']:+.4f} to "
            f"{diffs['log_loss_high']:+.4f}); routing value {dr['challenger']['rate']:.1%} vs "
            f"{dr['champion']['rate']:.1%}, difference {diffs['dr_value_low']:+.1%} to "
            f"{diffs['dr_value_high']:+.1%})"
        )
    return Comparison(
        n_holdout=len(held),
        n_holdout_leads=n_leads,
        holdout_from=str(held["created_at"].min()),
        holdout_to=str(held["created_at"].max()),
        champion={k: _num(v) for k, v in m_champ.items()},
        challenger={k: _num(v) for k, v in m_chall.items()},
        differences={k: _num(v) for k, v in diffs.items()},
        dr=dr,
        promote=not worse,
        reasons=reasons,
    )


def _leads(n_leads: int, n_rows: int) -> str:
    if n_rows == n_leads:
        return f"{n_leads:,} leads"
    return f"{n_leads:,} leads ({n_rows:,} rows with their inverse-propensity copies)"


def _num(x: Any) -> float:
    x = float(x)
    return x if math.isfinite(x) else float("nan")
