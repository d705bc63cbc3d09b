"""``analyze()``: the routing-effectiveness audit of a canonical history frame."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from leadpilot import __version__
from leadpilot.analyze.builders import SECTION_BUILDERS, AuditContext
from leadpilot.analyze.provenance import provenance
from leadpilot.analyze.recommend import Plan
from leadpilot.analyze.sections import Overall, ReportSections, Verdict, jsonable, plain
from leadpilot.errors import ConfigError, DataValidationError
from leadpilot.ingest.history import IngestResult
from leadpilot.schema import TARGETS

__all__ = ["TARGETS", "Analysis", "analyze", "prepare"]

PLACEHOLDERS = frozenset(
    {"unknown", "(unknown)", "n/a", "na", "none", "null", "nan", "-", "--", "(missing)", "(blank)"}
)
_T = TypeVar("_T")


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
    outcome. Returns the prepared frame (``rep, source, industry, size_band, hours, y, won,
    days, created``),
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
        # "unknown", "n/a" and the like are how exports spell a missing value: never a rep
        # or a source of their own
        return s.map(lambda v: None if v is None or v.lower() in PLACEHOLDERS else v)

    order = np.arange(len(frame))
    created = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
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
            "created": created,
            # the deal's amount where the export has one (the revenue impact)
            "value": (
                pd.to_numeric(frame["deal_value"], errors="coerce")
                if "deal_value" in frame.columns
                else pd.Series(np.nan, index=frame.index)
            ),
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


@dataclass
class Analysis:
    """The computed audit: typed report sections plus the tables the reports render."""

    sections: ReportSections
    by_rep: pd.DataFrame
    by_source: pd.DataFrame | None
    cells: dict[str, pd.DataFrame] = field(default_factory=dict)
    plan: Plan | None = None

    def to_dict(self) -> dict[str, Any]:
        """The audit as plain JSON types."""
        return cast(dict[str, Any], jsonable(plain(self.sections)))

    def to_json(self, indent: int = 2) -> str:
        """The audit as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @property
    def verdict(self) -> Verdict:
        """The verdict section."""
        return self.sections.verdict


def _built(section: _T | None) -> _T:
    """A section every audit has (a builder that forgot it is a bug, not bad input)."""
    if section is None:  # pragma: no cover - guarded by the builder tests
        raise RuntimeError("a section builder did not build its section")
    return section


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
    ctx = AuditContext(
        frame=frame,
        data=data,
        target=used,
        notes=notes,
        roster=reps,
        min_leads=min_leads,
        seed=seed,
        rng=np.random.default_rng(seed),
        ingest=ingest,
    )
    # One BLAS thread, as in ConversionModel.fit: the audit's fits are small, and OpenBLAS
    # threads spin-waiting made them ~14x dearer in CPU on a 2-core machine.
    with threadpool_limits(limits=1, user_api="blas"):
        for build in SECTION_BUILDERS:
            build(ctx)
    sections = ReportSections(
        leadpilot_version=__version__,
        provenance=provenance(frame, ingest),
        data_quality=_built(ctx.quality),
        methods=_built(ctx.methods),
        overall=Overall(leads=len(data), converted=int(data["y"].sum()), rate=ctx.overall),
        conversion_by_rep=ctx.conversion_by_rep,
        conversion_by_source=ctx.conversion_by_source,
        best_matches=ctx.best_matches,
        segment_heatmaps=ctx.heatmaps,
        time_to_contact=_built(ctx.ttc),
        trend=_built(ctx.trend),
        recommendations=_built(ctx.recommendations),
        verdict=_built(ctx.verdict),
        actions=ctx.actions,
    )
    return Analysis(
        sections=sections,
        by_rep=ctx.by_rep,
        by_source=ctx.by_source,
        cells=ctx.cells,
        plan=ctx.plan,
    )
