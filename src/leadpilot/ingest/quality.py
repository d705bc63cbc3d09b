"""Data-quality report of a canonical history frame, and the verdict "enough history to learn
from?" after the seeds' guidance: at least 6 (ideally 12-24) months, complete outcome
tracking, and a few hundred outcomes (we ask for 500) across at least two reps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from scipy.stats import binomtest

from leadpilot.ingest.history import IngestResult
from leadpilot.schema import HISTORY_COLUMNS

__all__ = [
    "GOOD_MONTHS",
    "MIN_MONTHS",
    "MIN_OUTCOMES",
    "QualityReport",
    "RateEstimate",
    "RepSummary",
    "quality_report",
    "wilson_interval",
]

MIN_MONTHS = 6.0
GOOD_MONTHS = 12.0
MIN_OUTCOMES = 500
COMPLETE_TRACKING = 0.9  # share of settled leads with a known outcome
PARTIAL_TRACKING = 0.5
THIN_REP_OUTCOMES = 30
_DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class RateEstimate:
    """A proportion with its Wilson 95% interval."""

    successes: int
    trials: int
    rate: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.rate:.1%} (95% CI {self.low:.1%}-{self.high:.1%}, n={self.trials:,})"


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> RateEstimate | None:
    """Rate and Wilson score interval (scipy); ``None`` when ``trials`` is 0.

    >>> round(wilson_interval(4238, 6711).rate, 4)
    0.6315
    """
    if trials <= 0:
        return None
    ci = binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return RateEstimate(successes, trials, successes / trials, float(ci.low), float(ci.high))


@dataclass(frozen=True)
class RepSummary:
    """Leads, known outcomes and conversion rate of one rep."""

    rep_id: str
    leads: int
    outcomes: int
    conversions: int
    rate: RateEstimate | None


@dataclass(frozen=True)
class QualityReport:
    """What ``leadpilot validate`` prints. ``verdict`` is ``"ready"``, ``"usable"`` (can learn,
    with caveats in ``reasons``) or ``"not enough"``; ``reasons`` say why, one per check."""

    rows: int
    n_read: int | None
    n_rejected: int
    format: str | None
    date_from: datetime | None
    date_to: datetime | None
    months_of_history: float | None
    outcome_column: str | None
    outcome: RateEstimate | None
    won: RateEstimate | None
    outcome_coverage: float | None
    missing: dict[str, int]
    duplicate_lead_ids: int
    reps: list[RepSummary]
    median_time_to_contact_hours: float | None
    verdict: str
    reasons: tuple[str, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # won / opportunities (converted leads whose deal outcome is known), when the file
    # records conversions and deal outcomes as two different things
    win_rate: RateEstimate | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO strings)."""
        data = asdict(self)
        for key in ("date_from", "date_to"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return data


def _rate(frame: pd.DataFrame, column: str) -> RateEstimate | None:
    known = frame[column].dropna()
    return wilson_interval(int(known.sum()), len(known))


def _reps(frame: pd.DataFrame, outcome: str | None) -> list[RepSummary]:
    with_rep = frame[frame["rep_id"].notna()]
    out: list[RepSummary] = []
    for rep, group in with_rep.groupby("rep_id", sort=False):
        known = group[outcome].dropna() if outcome else pd.Series(dtype="boolean")
        hits = int(known.sum()) if len(known) else 0
        out.append(
            RepSummary(str(rep), len(group), len(known), hits, wilson_interval(hits, len(known)))
        )
    return sorted(out, key=lambda r: (-r.leads, r.rep_id))


def _coverage(frame: pd.DataFrame, outcome: str, recent_days: int) -> float | None:
    # Leads created in the last ``recent_days`` may still be open legitimately; tracking is
    # judged on the older ("settled") ones.
    created = frame["created_at"]
    settled = frame
    if created.notna().any():
        cutoff = created.max() - pd.Timedelta(days=recent_days)
        settled = frame[created.notna() & (created <= cutoff)]
    if settled.empty:
        return None
    return float(settled[outcome].notna().mean())


def quality_report(
    frame: pd.DataFrame, *, ingest: IngestResult | None = None, recent_days: int = 60
) -> QualityReport:
    """Summarise a canonical history frame: rows, date range, outcome rate (Wilson 95%),
    missing values per column, duplicate lead ids, reps and their lead counts, months of
    history, and the verdict on whether it is enough to learn routing from.

    Canonical columns missing from ``frame`` count as entirely missing.
    """
    absent = [c for c in HISTORY_COLUMNS if c not in frame]
    if absent:
        frame = frame.assign(
            **{c: pd.Series(pd.NA, index=frame.index, dtype=object) for c in absent}
        )
        for c in ("converted", "closed_won"):
            frame[c] = frame[c].astype("boolean")
        for c in ("created_at",):
            frame[c] = pd.to_datetime(frame[c], utc=True)
        frame["time_to_contact_hours"] = pd.to_numeric(frame["time_to_contact_hours"])
    created = frame["created_at"].dropna()
    date_from = created.min().to_pydatetime() if len(created) else None
    date_to = created.max().to_pydatetime() if len(created) else None
    months = (date_to - date_from).days / _DAYS_PER_MONTH if date_from and date_to else None
    outcome = next((c for c in ("converted", "closed_won") if frame[c].notna().any()), None)
    rate = _rate(frame, outcome) if outcome else None
    won = _rate(frame, "closed_won") if frame["closed_won"].notna().any() else None
    win_rate = None
    if won is not None and outcome == "converted":
        same = frame["closed_won"].notna() & frame["converted"].notna()
        if not (frame.loc[same, "closed_won"] == frame.loc[same, "converted"]).all():
            win_rate = _rate(frame[frame["converted"].eq(True).fillna(False)], "closed_won")
    coverage = _coverage(frame, outcome, recent_days) if outcome else None
    reps = _reps(frame, outcome)
    duplicates = int(frame["lead_id"].duplicated().sum())
    if ingest is not None:
        duplicates += sum("duplicate lead id" in r.reason for r in ingest.rejects)
    missing = {c: int(frame[c].isna().sum()) for c in HISTORY_COLUMNS}
    ttc = frame["time_to_contact_hours"].dropna()
    verdict, reasons = _verdict(rate, months, coverage, reps, outcome)
    return QualityReport(
        rows=len(frame),
        n_read=ingest.n_read if ingest else None,
        n_rejected=ingest.n_rejected_rows if ingest else 0,
        format=ingest.format if ingest else None,
        date_from=date_from,
        date_to=date_to,
        months_of_history=months,
        outcome_column=outcome,
        outcome=rate,
        won=won,
        win_rate=win_rate,
        outcome_coverage=coverage,
        missing=missing,
        duplicate_lead_ids=duplicates,
        reps=reps,
        median_time_to_contact_hours=float(ttc.median()) if len(ttc) else None,
        verdict=verdict,
        reasons=tuple(reasons),
        warnings=tuple(ingest.warnings) if ingest else (),
    )


def _verdict(
    rate: RateEstimate | None,
    months: float | None,
    coverage: float | None,
    reps: list[RepSummary],
    outcome: str | None,
) -> tuple[str, list[str]]:
    blocking: list[str] = []
    minor: list[str] = []
    good: list[str] = []
    if rate is None:
        blocking.append("no outcome column (converted / closed_won): nothing to learn from")
    elif rate.trials < MIN_OUTCOMES:
        blocking.append(
            f"only {rate.trials:,} leads with a known outcome (< {MIN_OUTCOMES}): per-rep and "
            "per-segment rates would be mostly noise"
        )
    else:
        good.append(f"{rate.trials:,} leads with a known outcome (>= {MIN_OUTCOMES})")
    if months is None:
        minor.append(
            "no creation dates: cannot tell how many months of history this is "
            f"(the guidance is at least {MIN_MONTHS:.0f}, ideally 12-24); "
            "file order is used as time"
        )
    elif months < MIN_MONTHS:
        blocking.append(f"{months:.1f} months of history (< {MIN_MONTHS:.0f}): too short")
    elif months < GOOD_MONTHS:
        minor.append(f"{months:.1f} months of history: enough to start, 12-24 is better")
    else:
        good.append(f"{months:.1f} months of history (>= {GOOD_MONTHS:.0f})")
    if coverage is not None and outcome is not None:
        text = f"{coverage:.0%} of settled leads have a known {outcome} outcome"
        if coverage < PARTIAL_TRACKING:
            blocking.append(text + ": outcome tracking is too incomplete")
        elif coverage < COMPLETE_TRACKING:
            minor.append(text + ": outcome tracking is incomplete")
        else:
            good.append(text)
    active_reps = [r for r in reps if r.outcomes > 0]
    if not reps:
        blocking.append(
            "no rep column: leads can be scored, but which rep converts which lead "
            "cannot be learned"
        )
    elif len(active_reps) < 2:
        blocking.append("fewer than 2 reps with known outcomes: nothing to compare")
    else:
        thin = [r.rep_id for r in active_reps if r.outcomes < THIN_REP_OUTCOMES]
        good.append(f"{len(active_reps)} reps with known outcomes")
        if thin:
            shown = ", ".join(thin[:5]) + (", ..." if len(thin) > 5 else "")
            minor.append(
                f"{len(thin)} rep(s) have fewer than {THIN_REP_OUTCOMES} outcomes ({shown}): "
                "their estimates will lean on the team average"
            )
        all_positive = all(r.conversions == r.outcomes for r in active_reps)
        if all_positive:
            blocking.append(
                "every rep's known outcomes are all conversions: reps are recorded only on "
                "won leads, so rep effects cannot be learned"
            )
    if blocking:
        return "not enough", blocking + minor
    if minor:
        return "usable", minor + good
    return "ready", good
