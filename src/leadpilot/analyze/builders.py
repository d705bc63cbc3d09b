"""The audit's section builders: each computes one part of the report from a shared context.

``analyze()`` runs :data:`SECTION_BUILDERS` in order; a builder reads what earlier ones put
in the :class:`AuditContext` and adds its own part. A new section is one new builder here
(or in its own module) registered in the list, plus its field in ``ReportSections``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from leadpilot.analyze.actions import prioritised_actions
from leadpilot.analyze.additive import MIN_LOG_BAYES_FACTOR
from leadpilot.analyze.heterogeneity import GTest, interaction_test, rep_within_segment_test
from leadpilot.analyze.matches import FDR_LEVEL, best_matches, rep_segment_cells
from leadpilot.analyze.methods import methods_with_reps, methods_without_reps
from leadpilot.analyze.rates import rate_table
from leadpilot.analyze.recommend import CROSS_FIT_FOLDS, Plan, plan_routing, summarise
from leadpilot.analyze.revenue import revenue_impact
from leadpilot.analyze.sections import (
    Action,
    DataQuality,
    Heatmap,
    HeatmapCell,
    Lift,
    Match,
    Methods,
    RateRow,
    Recommendations,
    Rule,
    TimeToContact,
    Trend,
    Verdict,
)
from leadpilot.analyze.shrinkage import Shrunk, shrink
from leadpilot.analyze.speed import time_to_contact
from leadpilot.analyze.trend import monthly_trend, speed_by_source
from leadpilot.analyze.verdict import decide, without_reps
from leadpilot.ingest.history import IngestResult
from leadpilot.ingest.quality import quality_report
from leadpilot.schema import HISTORY_COLUMNS, SIZE_BANDS

__all__ = ["SECTION_BUILDERS", "AuditContext", "SectionBuilder"]

# Routing segments (rules are written for their combinations)...
SEGMENT_DIMENSIONS = ("industry", "size_band")
# ...and the dimensions in which the audit looks for each rep's best matches.
MATCH_DIMENSIONS = ("industry", "size_band", "source")
MAX_SEGMENT_VALUES = 25
MIN_MEAN_CELL_LEADS = 5
OTHER = "(other)"
MISSING = "(missing)"


@dataclass
class AuditContext:
    """What the builders share: the inputs, intermediate tables and the finished sections."""

    frame: pd.DataFrame
    data: pd.DataFrame
    target: str
    notes: list[str]
    roster: pd.DataFrame | None
    min_leads: int
    seed: int
    rng: np.random.Generator
    ingest: IngestResult | None
    overall: float = 0.0
    has_won: bool = False
    assigned: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_rep: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_source: pd.DataFrame | None = None
    rep_post: Shrunk | None = None
    dims: list[str] = field(default_factory=list)
    cells: dict[str, pd.DataFrame] = field(default_factory=dict)
    plan: Plan | None = None
    summary: dict[str, Any] | None = None
    het: GTest | None = None
    inter: GTest | None = None
    constant: str | None = None
    # the sections
    quality: DataQuality | None = None
    conversion_by_rep: list[RateRow] = field(default_factory=list)
    conversion_by_source: list[RateRow] = field(default_factory=list)
    best_matches: list[Match] = field(default_factory=list)
    heatmaps: dict[str, Heatmap] = field(default_factory=dict)
    ttc: TimeToContact | None = None
    trend: Trend | None = None
    verdict: Verdict | None = None
    recommendations: Recommendations | None = None
    actions: list[Action] = field(default_factory=list)
    methods: Methods | None = None

    @property
    def has_reps(self) -> bool:
        """Whether any lead with a known outcome names its rep."""
        return not self.assigned.empty


SectionBuilder = Callable[[AuditContext], None]


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            str(k): (
                None
                if isinstance(v, float) and np.isnan(v)
                else (v.item() if isinstance(v, np.generic) else v)
            )
            for k, v in rec.items()
        }
        for rec in table.to_dict("records")
    ]


def build_quality(ctx: AuditContext) -> None:
    """Rows, outcomes, reps, missing values, dates and the ``validate`` verdict."""
    frame, data = ctx.frame, ctx.data
    rows = len(frame)
    q = DataQuality(
        rows=rows,
        rows_used=len(data),
        outcome_unknown=rows - len(data),
        outcome_unknown_share=(rows - len(data)) / rows if rows else 0.0,
        target=ctx.target,
        outcome_rate=float(data["y"].mean()),
        reps=int(data["rep"].nunique()),
        leads_without_rep=int(data["rep"].isna().sum()),
        missing_share={
            col: float(data[col].isna().mean())
            for col in ("source", "industry", "size_band", "hours")
        },
    )
    if "created_at" in frame.columns:
        created = pd.to_datetime(frame["created_at"], utc=True, errors="coerce")
        if created.notna().any():
            q.has_dates = True
            first, last = created.min(), created.max()
            q.date_range = [first.isoformat(), last.isoformat()]
            q.months_of_history = round((last - first).days / 30.44, 1)
    if set(HISTORY_COLUMNS) <= set(frame.columns):
        report = quality_report(frame, ingest=ctx.ingest).to_dict()
        q.validate = report
        q.validate_summary = (
            f"Validation verdict: {report['verdict']}: " + "; ".join(report["reasons"]) + "."
        )
    ctx.quality = q


def build_rates(ctx: AuditContext) -> None:
    """Conversion by rep and by source, and each rep's shrunk rate."""
    data = ctx.data
    ctx.has_won = bool(data["won"].notna().any())
    ctx.overall = float(data["y"].mean())
    ctx.by_rep = rate_table(data, "rep", label="rep", won=ctx.has_won)
    ctx.by_source = (
        rate_table(data, "source", label="source", won=ctx.has_won)
        if data["source"].notna().any()
        else None
    )
    ctx.assigned = data[data["rep"].notna()]
    if not ctx.has_reps:
        assert ctx.quality is not None
        ctx.quality.has_reps = False
        return
    counts = ctx.assigned.groupby("rep", observed=True)["y"].agg(["size", "sum"])
    ctx.rep_post = shrink(counts["sum"], counts["size"], ctx.overall)
    ctx.by_rep["shrunk_rate"] = ctx.by_rep["rep"].map(
        pd.Series(ctx.rep_post.mean, index=counts.index)
    )


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


_SIZE_ORDER = {band[0]: i for i, band in enumerate(SIZE_BANDS)}


def _heatmap(cells: pd.DataFrame, min_leads: int, dimension: str = "") -> Heatmap:
    """Rep x segment grid, biggest reps first (charts show the top of it); size bands in size
    order (1-10, 11-50, ...: the order a reader scans them in), other segments biggest first."""
    rep_vol = cells.groupby(cells["rep"].astype(str))["leads"].sum()
    seg_vol = cells.groupby(cells["segment"].astype(str))["leads"].sum()
    reps = sorted(rep_vol.index, key=lambda r: (-int(rep_vol[r]), r))
    rank = _SIZE_ORDER if dimension == "size_band" else {}
    segs = sorted(seg_vol.index, key=lambda v: (rank.get(v, len(rank)), -int(seg_vol[v]), v))
    grid: list[list[HeatmapCell | None]] = [[None] * len(segs) for _ in reps]
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


def build_matches(ctx: AuditContext) -> None:
    """Shrunk rep x value cells per dimension, the significant best matches, the heat maps."""
    if not ctx.has_reps:
        return
    assert ctx.rep_post is not None
    assigned = ctx.assigned
    ctx.dims = [d for d in SEGMENT_DIMENSIONS if assigned[d].notna().mean() >= 0.5]
    match_dims = [d for d in MATCH_DIMENSIONS if assigned[d].notna().mean() >= 0.5]
    for d in match_dims:
        lumped, merged = _lump_rare(assigned[d], ctx.min_leads)
        if merged:
            assigned = assigned.assign(**{d: lumped})
            ctx.notes.append(
                f"{merged} rare {d.replace('_', ' ')} values (fewer than {ctx.min_leads} leads, "
                f"or beyond the {MAX_SEGMENT_VALUES} largest) are pooled as {OTHER!r}."
            )
    ctx.assigned = assigned
    counts = assigned.groupby("rep", observed=True).size()
    rep_rate = pd.Series(ctx.rep_post.mean, index=counts.index)
    ctx.cells = {
        d: rep_segment_cells(assigned, d, rep_rate, ctx.overall, min_leads=ctx.min_leads)
        for d in match_dims
    }
    ctx.best_matches = cast(list[Match], best_matches(ctx.cells))
    ctx.heatmaps = {d: _heatmap(c, ctx.min_leads, d) for d, c in ctx.cells.items()}


def build_speed(ctx: AuditContext) -> None:
    """Speed-to-lead: conversion by time to first contact, and speed by lead source."""
    ctx.ttc = cast(TimeToContact, time_to_contact(ctx.data))
    if not ctx.ttc.get("available"):
        # olist's first_contact_date is when the lead asked to be contacted (the reader takes
        # it as the creation date): "no first-contact time" must not read as if the export
        # had no such column
        named = [
            source
            for col, source in (ctx.ingest.mapping if ctx.ingest else {}).items()
            if col == "created_at" and "contact" in source.lower()
        ]
        if named:
            ctx.ttc["reason"] = (
                f"{ctx.ttc['reason']}. The export's {named[0]} is read as the date each lead "
                "came in (its creation date), not as when a rep first reached it"
            )
    if ctx.ttc.get("available"):
        ctx.ttc["by_source"] = speed_by_source(ctx.data)


def build_trend(ctx: AuditContext) -> None:
    """Conversion and speed-to-lead by month, where the history has creation dates."""
    frame = ctx.frame
    created = frame["created_at"] if "created_at" in frame.columns else pd.Series(dtype=object)
    ctx.trend = cast(Trend, monthly_trend(ctx.data, created))


def build_plan(ctx: AuditContext) -> None:
    """The capacity-respecting plan with its cross-fitted lift, and the heterogeneity tests."""
    if not ctx.has_reps:
        return
    assert ctx.quality is not None
    assigned, rng = ctx.assigned, ctx.rng
    plan = plan_routing(
        assigned, ctx.dims, ctx.overall, roster=ctx.roster, min_leads=ctx.min_leads, rng=rng
    )
    months = ctx.quality.months_of_history
    ctx.plan = plan
    ctx.summary = summarise(plan, months=months if months and months >= 1 else None)
    revenue = revenue_impact(
        plan.row_rep,
        plan.row_seg,
        plan.row_y,
        plan.row_value,
        plan.draws,
        plan.plan,
        plan.round_robin,
        # its own stream: the audit's other draws (and figures) stay as they were
        rng=np.random.default_rng(21),
        months=months if months and months >= 1 else None,
    )
    ctx.summary["projected_revenue"] = revenue.as_dict() if revenue is not None else None
    n_mat, k_mat = plan.observed_n, plan.observed_k
    keep = n_mat.sum(axis=1) > 0
    # Bootstrap sizes shrink on very wide tables so the simulated arrays stay in memory
    # (about 5 million cells for the permutation test, 4 million for the IPF refits).
    cells_n = max(int(keep.sum()) * n_mat.shape[1], 1)
    het_draws = int(min(999, max(99, 5_000_000 // cells_n)))
    inter_draws = int(min(199, max(49, 4_000_000 // cells_n)))
    # pooled tables: every segment together and by each dimension's value
    groups = [np.ones((n_mat.shape[1], 1))] + [
        np.eye(int(codes.max()) + 1)[codes] for codes in plan.segment_values if len(codes)
    ]
    ctx.het = rep_within_segment_test(
        k_mat[keep], n_mat[keep], draws=het_draws, rng=rng, groups=groups
    )
    observed = n_mat[keep] > 0
    dense = bool(observed.any()) and float(n_mat[keep][observed].mean()) >= MIN_MEAN_CELL_LEADS
    # The interaction bootstrap plugs in fitted rates; on very sparse tables that is biased,
    # so it is only run (and reported) when cells hold a few leads on average.
    ctx.inter = (
        interaction_test(k_mat[keep], n_mat[keep], draws=inter_draws, rng=rng)
        if ctx.dims and dense
        else None
    )
    if len(assigned) and assigned["y"].nunique() == 1:
        word = "converted" if int(assigned["y"].iloc[0]) == 1 else "did not convert"
        ctx.constant = (
            f"Every lead in the history {word}: there is nothing to compare."
            if ctx.data["y"].nunique() == 1
            else f"Every lead with a rep {word}: the export records the rep only for one "
            "outcome (e.g. the owner of won deals), so reps cannot be compared on it."
        )
        ctx.notes.append(ctx.constant)


def build_verdict(ctx: AuditContext) -> None:
    """Supported or not, and the 15% question."""
    if not ctx.has_reps:
        ctx.verdict = without_reps()
        return
    assert ctx.summary is not None
    assert ctx.het is not None
    assert ctx.plan is not None
    if ctx.constant is not None:
        # one outcome for every lead with a rep: a lift has nothing to rest on
        for key in ("projected_lift", "projected_lift_vs_history"):
            ctx.summary[key].update(value=None, ci_low=None, ci_high=None)
        ctx.summary["model"]["out_of_sample_lift"].update(value=None, ci_low=None, ci_high=None)
        ctx.plan.out_of_sample = None
    ctx.verdict = decide(
        het=ctx.het,
        inter=ctx.inter,
        lift=Lift(**ctx.summary["projected_lift"]),
        dims=ctx.dims,
        n_reps=int((ctx.plan.observed_n.sum(axis=1) > 0).sum()),
        n_leads=len(ctx.assigned),
        constant_outcome=ctx.constant,
        segment_strengths=ctx.plan.interaction_evidence >= MIN_LOG_BAYES_FACTOR,
    )


def _no_rules_statement(verdict: Verdict, lead: str) -> str:
    return lead + verdict.reason[0].lower() + verdict.reason[1:]


def _plan_method(plan: Plan, quality: DataQuality | None) -> str:
    oos = plan.out_of_sample
    blocks = "time" if quality and quality.has_dates else "row (file order)"
    check = (
        f" Out-of-sample check ({CROSS_FIT_FOLDS} contiguous {blocks} blocks, the plan learned "
        "on one judged by the model of the other): "
        f"{oos.value:+.1%} (95% interval {oos.ci_low:+.1%} to {oos.ci_high:+.1%}); it is "
        "conservative, as each judge shrinks the effects it sees on half the history."
        if oos and oos.value is not None and oos.ci_low is not None and oos.ci_high is not None
        else ""
    )
    spreads = (
        ", ".join(
            f"{sd:.2f} for rep x {d.replace('_', ' ')}" for d, sd in plan.interaction_sds.items()
        )
        + " (log-odds)"
        if plan.interaction_sds
        else f"{plan.interaction_sd:.2f} log-odds"
    )
    return (
        "The historical mix of leads per segment was re-assigned by a linear programme "
        "(scipy HiGHS) maximising expected conversions under an additive conversion model "
        "(ridge logistic regression on rep, segment values, lead source and rep x segment "
        "value, each dimension's interactions with their own prior spread chosen by empirical "
        f"Bayes: {spreads}, log Bayes factor {plan.interaction_evidence:.1f} "
        f"against none; segment strengths are used only from a log Bayes factor of "
        f"{MIN_LOG_BAYES_FACTOR:.0f}), with each rep's capacity from {plan.capacity_source}. "
        "Projected lift and its 95% interval: the plan against round-robin under joint "
        "posterior draws of every rep x segment rate (Laplace approximation), drawn from every "
        "plausible combination of the interactions' spreads in proportion to its evidence, so "
        "the interval "
        "carries the uncertainty of how strong segment strengths are "
        "(benchmarks/audit_power.py checks the interval against synthetic worlds' ground "
        "truth)." + check
    )


def build_recommendations(ctx: AuditContext) -> None:
    """The plan's rules in words (none unless the verdict supports them) and its method."""
    assert ctx.verdict is not None
    verdict = ctx.verdict
    if not ctx.has_reps:
        ctx.recommendations = Recommendations(
            statement=_no_rules_statement(verdict, "No routing rules: "),
            method="Not run: the history does not name the rep of each lead.",
            rules=[],
            capacity_source="not applicable",
            projected_lift=Lift(None, None, None),
            projected_lift_vs_history=Lift(None, None, None),
        )
        return
    assert ctx.summary is not None
    assert ctx.plan is not None
    s = ctx.summary
    rules = cast(list[Rule], s["rules"])
    rec = Recommendations(
        statement=verdict.statement_15pct,
        method=_plan_method(ctx.plan, ctx.quality),
        rules=rules,
        capacity_source=s["capacity_source"],
        projected_lift=Lift(**s["projected_lift"]),
        projected_lift_vs_history=Lift(**s["projected_lift_vs_history"]),
        projected_revenue=s.get("projected_revenue"),
        segments=s["segments"],
        reps=s["reps"],
        leads=s["leads"],
        expected_conversions=s["expected_conversions"],
        in_sample_lift=s["in_sample_lift"],
        probability_lift_positive=s["probability_lift_positive"],
        probability_lift_15pct=s["probability_lift_15pct"],
        rules_total=s["rules_total"],
        plan=s["plan"],
        model=s["model"],
    )
    if not verdict.supports_predictive_routing:
        rec.rules_considered = rules
        rec.rules = []
        rec.statement = _no_rules_statement(verdict, "No routing rules are recommended: ")
    ctx.recommendations = rec


def build_actions(ctx: AuditContext) -> None:
    """Three to five prioritised actions."""
    assert ctx.ttc is not None
    assert ctx.quality is not None
    assert ctx.recommendations is not None
    assert ctx.verdict is not None
    # reps are compared only when their outcomes vary (not when the export names the rep of
    # won deals only) and never on leads without a rep
    comparable = ctx.has_reps and ctx.constant is None
    by_rep = ctx.by_rep[ctx.by_rep["rep"] != MISSING] if comparable else ctx.by_rep.iloc[0:0]
    by_source = ctx.by_source
    if by_source is not None:
        by_source = by_source[by_source["source"] != MISSING]
    ctx.actions = prioritised_actions(
        by_rep=by_rep,
        by_source=by_source,
        time_to_contact=ctx.ttc,
        recommendations=ctx.recommendations,
        verdict=ctx.verdict,
        quality=ctx.quality,
        overall=ctx.overall,
        min_leads=ctx.min_leads,
    )


def build_rate_tables(ctx: AuditContext) -> None:
    """The rep and source tables as records (with median days to convert when dated); leads
    without a rep or source are counted in the data-quality header, not as a row."""
    data, by_rep, by_source = ctx.data, ctx.by_rep, ctx.by_source
    by_rep = by_rep[by_rep["rep"] != MISSING].reset_index(drop=True)
    if by_source is not None:
        by_source = by_source[by_source["source"] != MISSING].reset_index(drop=True)
    cols = ["leads", "converted", "rate", "ci_low", "ci_high"]
    if not ctx.has_reps:
        if by_source is not None and "win_rate" in by_source.columns:
            cols += ["won", "win_rate"]
        ctx.by_rep = by_rep.iloc[0:0]
        if by_source is not None:
            ctx.conversion_by_source = cast(list[RateRow], _records(by_source[["source", *cols]]))
        return
    cols += ["won", "win_rate"] if ctx.has_won else []
    positive = data[(data["y"] == 1) & data["days"].notna()]
    if len(positive) >= ctx.min_leads:
        for table, key in ((by_rep, "rep"), (by_source, "source")):
            if table is None:
                continue
            keys = positive[key].astype("object").where(positive[key].notna(), MISSING)
            table["median_days_to_convert"] = table[key].map(
                positive["days"].groupby(keys).median()
            )
        cols.append("median_days_to_convert")
    ctx.conversion_by_rep = cast(list[RateRow], _records(by_rep[["rep", *cols, "shrunk_rate"]]))
    ctx.conversion_by_source = cast(
        list[RateRow],
        _records(by_source[["source", *cols]] if by_source is not None else pd.DataFrame()),
    )


def build_methods(ctx: AuditContext) -> None:
    """How every figure was computed."""
    assert ctx.recommendations is not None
    if not ctx.has_reps:
        ctx.methods = methods_without_reps(ctx.target, ctx.notes, ctx.seed, ctx.min_leads)
        return
    assert ctx.rep_post is not None
    ctx.methods = methods_with_reps(
        ctx.target,
        ctx.notes,
        ctx.seed,
        ctx.min_leads,
        cell_kappas={d: c.attrs.get("kappa") for d, c in ctx.cells.items()},
        rep_kappa=ctx.rep_post.kappa,
        recommendations=ctx.recommendations.method,
        min_mean_cell_leads=MIN_MEAN_CELL_LEADS,
    )


# The order matters: each builder reads what the ones before it computed.
SECTION_BUILDERS: list[SectionBuilder] = [
    build_quality,
    build_rates,
    build_matches,
    build_speed,
    build_trend,
    build_plan,
    build_verdict,
    build_recommendations,
    build_actions,
    build_rate_tables,
    build_methods,
]
