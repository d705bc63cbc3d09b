"""``analyze()``: the routing-effectiveness audit of a canonical history frame."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leadpilot import __version__
from leadpilot.analyze.actions import prioritised_actions
from leadpilot.analyze.heterogeneity import interaction_test, rep_within_segment_test
from leadpilot.analyze.matches import FDR_LEVEL, best_matches, rep_segment_cells
from leadpilot.analyze.rates import rate_table
from leadpilot.analyze.recommend import CROSS_FIT_FOLDS, Plan, plan_routing, summarise
from leadpilot.analyze.shrinkage import KAPPA_MAX, shrink
from leadpilot.analyze.speed import time_to_contact
from leadpilot.analyze.verdict import decide, without_reps
from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.ingest.history import IngestResult
from leadpilot.ingest.quality import quality_report
from leadpilot.schema import HISTORY_COLUMNS, TARGETS

__all__ = ["TARGETS", "Analysis", "analyze", "prepare"]

# Routing segments (rules are written for their combinations)...
SEGMENT_DIMENSIONS = ("industry", "size_band")
# ...and the dimensions in which the audit looks for each rep's best matches.
MATCH_DIMENSIONS = ("industry", "size_band", "source")
MAX_SEGMENT_VALUES = 25
MIN_MEAN_CELL_LEADS = 5
OTHER = "(other)"


def _outcome(series: pd.Series) -> pd.Series:
    """0/1 float outcome with NaN for unknown, from nullable booleans, bools, 0/1 or Yes/No."""
    if series.dtype == "boolean" or series.dtype == bool:
        return series.astype("Float64").astype(float)
    lowered = series.astype("object").map(
        lambda v: v if not isinstance(v, str) else v.strip().lower()
    )
    mapping = {
        True: 1.0,
        False: 0.0,
        "yes": 1.0,
        "no": 0.0,
        "true": 1.0,
        "false": 0.0,
        "1": 1.0,
        "0": 0.0,
        "y": 1.0,
        "n": 0.0,
    }
    return lowered.map(lambda v: mapping.get(v, np.nan) if pd.notna(v) else np.nan).astype(float)


def _days_to_outcome(frame: pd.DataFrame, used: str) -> pd.Series:
    """Days from creation to the positive outcome (converted_at, else closed_at), NaN when a
    date is missing; only meaningful for leads whose outcome is positive."""
    if "created_at" not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    created = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
    cols = ["converted_at", "closed_at"] if used == "converted" else ["closed_at"]
    end = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    for col in cols:
        if col in frame.columns:
            end = end.fillna(pd.to_datetime(frame[col], utc=True, errors="coerce"))
    days = (end - created).dt.total_seconds() / 86400.0
    return days.where(days >= 0)


def prepare(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, str, list[str]]:
    """Reduce a canonical frame to the columns the audit uses, one row per lead with a known
    outcome. Returns the prepared frame (``rep, source, industry, size_band, hours, y, won``),
    the outcome column actually used, and notes for the methods section.
    """
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}", hint=f"use one of: {', '.join(TARGETS)}")
    notes: list[str] = []
    if "rep_id" not in frame.columns or frame["rep_id"].notna().sum() == 0:
        notes.append(
            "The history has no assigned rep (rep_id is missing or empty): the routing "
            "sections are empty; export the lead owner / assigned rep column to get them."
        )
    used = target
    if target not in frame.columns or _outcome(frame[target]).notna().sum() == 0:
        other = "closed_won" if target == "converted" else "converted"
        if other in frame.columns and _outcome(frame[other]).notna().sum() > 0:
            notes.append(f"The data has no {target} outcome, so the audit uses {other} instead.")
            used = other
        else:
            raise DataValidationError(
                f"the history has no known outcome in column {target!r}",
                hint="export whether each lead converted (e.g. Converted_to_Opp, IsConverted) "
                "or was won (Closed_Won, deal stage)",
            )
    y = _outcome(frame[used])
    hours = (
        pd.to_numeric(frame["time_to_contact_hours"], errors="coerce")
        if "time_to_contact_hours" in frame.columns
        else pd.Series(np.nan, index=frame.index)
    )
    if {"first_contact_at", "created_at"} <= set(frame.columns):
        derived = (
            pd.to_datetime(frame["first_contact_at"], utc=True, errors="coerce")
            - pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
        ).dt.total_seconds() / 3600.0
        hours = hours.fillna(derived)
    won = (
        _outcome(frame["closed_won"])
        if used != "closed_won" and "closed_won" in frame.columns
        else pd.Series(np.nan, index=frame.index)
    )

    def text(col: str) -> pd.Series:
        if col not in frame.columns:
            return pd.Series(None, index=frame.index, dtype="object")
        s = frame[col].astype("object")
        s = s.where(s.notna(), None).map(lambda v: None if v is None else str(v).strip() or None)
        return s

    order = np.arange(len(frame))
    if "created_at" in frame.columns:
        created = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
        if created.notna().any():
            # time order (file order breaks ties and goes last for unknown dates): the
            # cross-fitted lift cuts the history into contiguous blocks of time
            order = (
                created.reset_index(drop=True)
                .sort_values(kind="stable", na_position="last")
                .index.to_numpy()
            )
    data = pd.DataFrame(
        {
            "rep": text("rep_id"),
            "source": text("source"),
            "industry": text("industry"),
            "size_band": text("size_band"),
            "hours": hours.astype(float),
            "y": y,
            "won": won,
            "days": _days_to_outcome(frame, used),
        }
    )
    both = data["won"].notna() & data["y"].notna()
    if both.any() and (data.loc[both, "won"] == data.loc[both, "y"]).all():
        # the export's "converted" is the won flag itself (e.g. the maven preset): no win rate
        data["won"] = np.nan
    data = data.iloc[order]
    data = data[data["y"].notna()].reset_index(drop=True)
    if data.empty:
        raise DataValidationError(
            f"no lead in the history has a known {used!r} outcome",
            hint="open leads are left out; export closed leads too",
        )
    data["y"] = data["y"].astype(np.int8)
    return data, used, notes


def _quality(frame: pd.DataFrame, data: pd.DataFrame, target: str) -> dict[str, Any]:
    rows = len(frame)
    out: dict[str, Any] = {
        "rows": rows,
        "rows_used": len(data),
        "outcome_unknown": rows - len(data),
        "outcome_unknown_share": (rows - len(data)) / rows if rows else 0.0,
        "target": target,
        "outcome_rate": float(data["y"].mean()),
        "reps": int(data["rep"].nunique()),
        "leads_without_rep": int(data["rep"].isna().sum()),
        "missing_share": {
            col: float(data[col].isna().mean())
            for col in ("source", "industry", "size_band", "hours")
        },
        "has_dates": False,
    }
    if "created_at" in frame.columns:
        created = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
        if created.notna().any():
            out["has_dates"] = True
            first, last = created.min(), created.max()
            out["date_range"] = [first.isoformat(), last.isoformat()]
            out["months_of_history"] = round((last - first).days / 30.44, 1)
    return out


def _jsonable(value: Any) -> Any:
    """Plain JSON types all the way down: numpy scalars unwrapped, NaN and inf to None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _validate_summary(frame: pd.DataFrame, ingest: IngestResult | None) -> dict[str, Any] | None:
    """The ``leadpilot validate`` report, when the frame is a full canonical frame."""
    if not set(HISTORY_COLUMNS) <= set(frame.columns):
        return None
    report = quality_report(frame, ingest=ingest)
    return report.to_dict()


def _lump_rare(values: pd.Series, min_leads: int) -> tuple[pd.Series, int]:
    """Pool values with fewer than ``min_leads`` leads (and any beyond the
    ``MAX_SEGMENT_VALUES`` largest) into one "(other)" value: a 150-value industry picklist
    would otherwise spread the history over cells too thin to learn from (and blow up
    memory). Returns the new series and how many values were pooled."""
    counts = values.value_counts()
    keep = counts[counts >= min_leads].index[:MAX_SEGMENT_VALUES]
    rare = counts.index.difference(keep)
    if len(rare) == 0:
        return values, 0
    return values.where(~values.isin(rare) | values.isna(), OTHER), len(rare)


def _kappa(kappa: float) -> str:
    return "full pooling (no spread beyond chance)" if kappa >= KAPPA_MAX else f"{kappa:.0f}"


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    recs = table.to_dict("records")
    clean: list[dict[str, Any]] = []
    for rec in recs:
        clean.append(
            {
                str(k): (
                    None
                    if isinstance(v, float) and np.isnan(v)
                    else (v.item() if isinstance(v, np.generic) else v)
                )
                for k, v in rec.items()
            }
        )
    return clean


@dataclass
class Analysis:
    """The computed audit: JSON-ready sections plus the tables the reports render."""

    sections: dict[str, Any]
    by_rep: pd.DataFrame
    by_source: pd.DataFrame | None
    cells: dict[str, pd.DataFrame] = field(default_factory=dict)
    plan: Plan | None = None

    def to_dict(self) -> dict[str, Any]:
        """The audit as plain JSON types (see the issue for the key names)."""
        return self.sections

    def to_json(self, indent: int = 2) -> str:
        """The audit as a JSON document."""
        return json.dumps(self.sections, indent=indent, allow_nan=False)

    @property
    def verdict(self) -> dict[str, Any]:
        """The ``verdict`` section."""
        return dict(self.sections["verdict"])


def _heatmap(cells: pd.DataFrame, min_leads: int) -> dict[str, Any]:
    """Rep x segment grid, biggest reps and segments first (charts show the top of it)."""
    rep_vol = cells.groupby(cells["rep"].astype(str))["leads"].sum()
    seg_vol = cells.groupby(cells["segment"].astype(str))["leads"].sum()
    reps = sorted(rep_vol.index, key=lambda r: (-int(rep_vol[r]), r))
    segs = sorted(seg_vol.index, key=lambda v: (-int(seg_vol[v]), v))
    grid: list[list[dict[str, Any] | None]] = [[None] * len(segs) for _ in reps]
    r_i = {r: i for i, r in enumerate(reps)}
    s_i = {s: i for i, s in enumerate(segs)}
    for rec in cells.to_dict("records"):
        lift = rec["lift"]
        q = rec["q_value"]
        grid[r_i[str(rec["rep"])]][s_i[str(rec["segment"])]] = {
            "leads": int(rec["leads"]),
            "rate": float(rec["rate"]),
            "shrunk": float(rec["shrunk"]),
            "lift": None if pd.isna(lift) else float(lift),
            "significant": bool((not pd.isna(q)) and q <= FDR_LEVEL and lift > 0),
            "thin": int(rec["leads"]) < min_leads,
        }
    return {"reps": reps, "segments": segs, "cells": grid}


def _without_reps(
    data: pd.DataFrame,
    quality: dict[str, Any],
    notes: list[str],
    by_rep: pd.DataFrame,
    by_source: pd.DataFrame | None,
    used: str,
    min_leads: int,
    seed: int,
) -> Analysis:
    """The audit of a history without reps (lead-scoring exports): sources and speed only."""
    overall = float(data["y"].mean())
    quality["has_reps"] = False
    ttc = time_to_contact(data)
    verdict = without_reps()
    none = {"value": None, "ci_low": None, "ci_high": None}
    recommendations = {
        "rules": [],
        "statement": "No routing rules: " + verdict["reason"][0].lower() + verdict["reason"][1:],
        "projected_lift": none,
        "projected_lift_vs_history": dict(none),
        "capacity_source": "not applicable",
        "method": "Not run: the history does not name the rep of each lead.",
    }
    actions = prioritised_actions(
        by_rep=by_rep.iloc[0:0],
        by_source=by_source,
        time_to_contact=ttc,
        recommendations=recommendations,
        verdict=verdict,
        quality=quality,
        overall=overall,
        min_leads=min_leads,
    )
    cols = ["leads", "converted", "rate", "ci_low", "ci_high"]
    if by_source is not None and "win_rate" in by_source.columns:
        cols += ["won", "win_rate"]
    sections: dict[str, Any] = {
        "leadpilot_version": __version__,
        "data_quality": quality,
        "methods": {
            "target": used,
            "notes": notes,
            "rates": "rate = converted / leads with a known outcome; 95% Wilson score intervals.",
            "shrinkage": "Not run (no reps).",
            "best_matches": "Not run (no reps).",
            "time_to_contact": "Bins with Wilson intervals; logistic fit on log hours; Spearman "
            "and point-biserial correlations.",
            "heterogeneity": "Not run (no reps).",
            "recommendations": recommendations["method"],
            "limitations": "Observational history.",
            "seed": seed,
            "min_leads": min_leads,
        },
        "overall": {"leads": len(data), "converted": int(data["y"].sum()), "rate": overall},
        "conversion_by_rep": [],
        "conversion_by_source": _records(by_source[["source", *cols]])
        if by_source is not None
        else [],
        "best_matches": [],
        "segment_heatmaps": {},
        "time_to_contact": ttc,
        "recommendations": recommendations,
        "verdict": verdict,
        "actions": actions,
    }
    return Analysis(sections=_jsonable(sections), by_rep=by_rep.iloc[0:0], by_source=by_source)


def analyze(
    frame: pd.DataFrame,
    *,
    reps: pd.DataFrame | None = None,
    target: str = "converted",
    min_leads: int = 20,
    seed: int = 0,
    ingest: IngestResult | None = None,
) -> Analysis:
    """Audit a routing history (a canonical frame from ``leadpilot.ingest``).

    ``reps`` is the roster (canonical rep columns; ``max_leads_per_day`` sets capacities,
    ``active`` = false drops a rep). ``min_leads`` is the smallest rep x segment cell that is
    tested or may back a rule. ``seed`` fixes the bootstrap; ``ingest`` (the reader's result) adds
    rows read and rejected to the data-quality header. Raises ``DataValidationError``
    when the history has no known outcome; without reps only sources and speed are audited.
    """
    if min_leads < 1:
        raise ConfigError(f"min_leads must be at least 1, got {min_leads}", hint="e.g. 20")
    data, used, notes = prepare(frame, target)
    rng = np.random.default_rng(seed)
    quality = _quality(frame, data, used)
    validate = _validate_summary(frame, ingest)
    if validate is not None:
        quality["validate"] = validate
        quality["validate_summary"] = (
            f"Validation verdict: {validate['verdict']}: " + "; ".join(validate["reasons"]) + "."
        )
    has_won = bool(data["won"].notna().any())
    overall = float(data["y"].mean())

    by_rep = rate_table(data, "rep", label="rep", won=has_won)
    by_source = (
        rate_table(data, "source", label="source", won=has_won)
        if data["source"].notna().any()
        else None
    )

    assigned = data[data["rep"].notna()]
    if assigned.empty:
        return _without_reps(data, quality, notes, by_rep, by_source, used, min_leads, seed)
    rep_counts = assigned.groupby("rep", observed=True)["y"].agg(["size", "sum"])
    rep_post = shrink(rep_counts["sum"], rep_counts["size"], overall)
    rep_rate = pd.Series(rep_post.mean, index=rep_counts.index)
    by_rep["shrunk_rate"] = by_rep["rep"].map(rep_rate)

    dims = [d for d in SEGMENT_DIMENSIONS if assigned[d].notna().mean() >= 0.5]
    match_dims = [d for d in MATCH_DIMENSIONS if assigned[d].notna().mean() >= 0.5]
    for d in match_dims:
        lumped, merged = _lump_rare(assigned[d], min_leads)
        if merged:
            assigned = assigned.assign(**{d: lumped})
            notes.append(
                f"{merged} rare {d.replace('_', ' ')} values (fewer than {min_leads} leads, or "
                f"beyond the {MAX_SEGMENT_VALUES} largest) are pooled as {OTHER!r}."
            )
    cells = {
        d: rep_segment_cells(assigned, d, rep_rate, overall, min_leads=min_leads)
        for d in match_dims
    }
    matches = best_matches(cells)
    ttc = time_to_contact(data)

    plan = plan_routing(assigned, dims, overall, roster=reps, min_leads=min_leads, rng=rng)
    months = quality.get("months_of_history")
    summary = summarise(plan, months=months if months and months >= 1 else None)
    n_mat, k_mat = plan.observed_n, plan.observed_k
    keep = n_mat.sum(axis=1) > 0
    # Bootstrap sizes shrink on very wide tables so the simulated arrays stay in memory
    # (about 20 million cells for the G-test, 4 million for the IPF refits).
    cells_n = max(int(keep.sum()) * n_mat.shape[1], 1)
    het_draws = int(min(999, max(99, 20_000_000 // cells_n)))
    inter_draws = int(min(199, max(49, 4_000_000 // cells_n)))
    het = rep_within_segment_test(k_mat[keep], n_mat[keep], draws=het_draws, rng=rng)
    observed = n_mat[keep] > 0
    dense = bool(observed.any()) and float(n_mat[keep][observed].mean()) >= MIN_MEAN_CELL_LEADS
    # The interaction bootstrap plugs in fitted rates; on very sparse tables that is biased,
    # so it is only run (and reported) when cells hold a few leads on average.
    inter = (
        interaction_test(k_mat[keep], n_mat[keep], draws=inter_draws, rng=rng)
        if dims and dense
        else None
    )

    constant = None
    if len(assigned) and assigned["y"].nunique() == 1:
        word = "converted" if int(assigned["y"].iloc[0]) == 1 else "did not convert"
        constant = (
            f"Every lead in the history {word}: there is nothing to compare."
            if data["y"].nunique() == 1
            else f"Every lead with a rep {word}: the export records the rep only for one "
            "outcome (e.g. the owner of won deals), so reps cannot be compared on it."
        )
        notes.append(constant)
    verdict = decide(
        het=het,
        inter=inter,
        lift=summary["projected_lift"],
        dims=dims,
        n_reps=int((n_mat.sum(axis=1) > 0).sum()),
        n_leads=len(assigned),
        constant_outcome=constant,
    )
    supports = verdict["supports_predictive_routing"]
    reason = verdict["reason"]
    hope_text = verdict["statement_15pct"]
    recommendations = dict(summary)
    if not supports:
        recommendations["rules_considered"] = recommendations.pop("rules")
        recommendations["rules"] = []
        recommendations["statement"] = (
            "No routing rules are recommended: " + reason[0].lower() + reason[1:]
        )
    else:
        recommendations["statement"] = hope_text
    recommendations["method"] = (
        "The historical mix of leads per segment was re-assigned by a linear programme "
        "(scipy HiGHS) maximising expected conversions under the shrunk rep x segment rates, "
        f"with each rep's capacity from {plan.capacity_source}; a rep may exceed its "
        f"round-robin share of a segment only with at least {min_leads} leads of it in the "
        f"history. Projected lift: {CROSS_FIT_FOLDS}-fold cross-fitting over contiguous time "
        "blocks: a plan learned on the other blocks is judged on each held-out block's own "
        f"outcomes ({plan.cross_fit_draws.shape[0]} Beta draws per cell), summed over the "
        "blocks, so the estimate is not inflated by noise the plan chased (it is slightly "
        "conservative). Per-rule figures are in-sample posterior estimates from the full history."
    )
    actions = prioritised_actions(
        by_rep=by_rep,
        by_source=by_source,
        time_to_contact=ttc,
        recommendations=recommendations,
        verdict=verdict,
        quality=quality,
        overall=overall,
        min_leads=min_leads,
    )
    rep_cols = ["rep", "leads", "converted", "rate", "ci_low", "ci_high"]
    rep_cols += ["won", "win_rate"] if has_won else []
    rep_cols += ["shrunk_rate"]
    has_days = bool(data.loc[data["y"] == 1, "days"].notna().sum() >= min_leads)
    if has_days:
        for table, key in ((by_rep, "rep"), (by_source, "source")):
            if table is None:
                continue
            positive = data[(data["y"] == 1) & data["days"].notna()]
            keys = positive[key].astype("object").where(positive[key].notna(), "(missing)")
            table["median_days_to_convert"] = table[key].map(
                positive["days"].groupby(keys).median()
            )
        rep_cols.insert(-1, "median_days_to_convert")
    methods = {
        "target": used,
        "notes": notes,
        "rates": "rate = converted / leads with a known outcome; 95% Wilson score intervals.",
        "shrinkage": (
            "Empirical-Bayes beta-binomial: each rep x segment cell is shrunk toward what the "
            "rep's overall rate and the segment's rate predict together (log-odds additive), "
            "with the prior strength fitted by maximum marginal likelihood. Prior strengths "
            "(pseudo-leads): "
            + ", ".join(f"{d} {_kappa(c.attrs.get('kappa', KAPPA_MAX))}" for d, c in cells.items())
            + f"; reps {_kappa(rep_post.kappa)}."
        ),
        "best_matches": (
            f"Cells with at least {min_leads} leads, Fisher's exact test (two-sided by doubling "
            "the smaller tail) of the rep against the other reps in the segment, "
            "Benjamini-Hochberg false discovery rate "
            f"{FDR_LEVEL:.0%}; lift = shrunk rate / segment rate - 1."
        ),
        "time_to_contact": "Bins with Wilson intervals; logistic fit on log hours; Spearman and "
        "point-biserial correlations.",
        "heterogeneity": (
            "G-test of rep within segment with a permutation p-value (each segment's "
            "conversions re-dealt at random among its leads: exact however sparse the cells); "
            "G-test of rep x segment interaction against the additive model (fitted by "
            "iterative proportional fitting) with a parametric-bootstrap p-value, run only when "
            f"cells average at least {MIN_MEAN_CELL_LEADS} leads."
        ),
        "recommendations": recommendations["method"],
        "limitations": (
            "Observational history: reps were not assigned at random, so part of any rep "
            "difference may come from which leads they were given (a randomised holdout "
            "measures it without that bias). Shrinkage intervals cap each prior's strength at "
            "the leads its mean rests on, so they are not over-confident for small reps."
        ),
        "seed": seed,
        "min_leads": min_leads,
    }
    sections: dict[str, Any] = {
        "leadpilot_version": __version__,
        "data_quality": quality,
        "methods": methods,
        "overall": {"leads": len(data), "converted": int(data["y"].sum()), "rate": overall},
        "conversion_by_rep": _records(by_rep[rep_cols]),
        "conversion_by_source": _records(
            by_source[["source", *rep_cols[1:-1]]] if by_source is not None else pd.DataFrame()
        ),
        "best_matches": matches,
        "segment_heatmaps": {d: _heatmap(c, min_leads) for d, c in cells.items()},
        "time_to_contact": ttc,
        "recommendations": recommendations,
        "verdict": verdict,
        "actions": actions,
    }
    return Analysis(sections=sections, by_rep=by_rep, by_source=by_source, cells=cells, plan=plan)
