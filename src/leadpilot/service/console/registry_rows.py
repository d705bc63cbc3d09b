"""The model page's registry table: every version of ``GET /v1/models`` as display text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadpilot.lifecycle.listing import held_out

__all__ = ["RegistryRow", "registry_rows"]

_STATUS_CLASS = {"champion": "green", "rejected": "red", "candidate": "amber"}


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One version as the console shows it."""

    version: str
    status: str
    status_class: str  # green (champion), amber (candidate), red (rejected), none (retired)
    registered: str
    trained_by: str
    window: str  # first to last lead learned from, and how many
    auc: str
    log_loss: str
    reason: str
    events: list[dict[str, Any]]  # the trail, newest first


def _day(text: Any) -> str:
    return str(text)[:10] if text else "?"


def _window(window: dict[str, Any] | None) -> str:
    known = window or {}
    parts = [known[p] for p in ("train", "calibration", "test") if known.get(p)]
    if not parts:
        return "-"
    rows = sum(int(p.get("rows") or 0) for p in parts)
    return f"{_day(parts[0].get('first'))} to {_day(parts[-1].get('last'))} ({rows:,} leads)"


def _figure(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


def registry_rows(listing: list[dict[str, Any]]) -> list[RegistryRow]:
    """``lifecycle.listing.registry_listing(...)`` as table rows (newest first)."""
    out = []
    for v in listing:
        figures = held_out(v.get("metrics"))
        status = v.get("status") or "-"
        out.append(
            RegistryRow(
                version=v["version"],
                status=status,
                status_class=_STATUS_CLASS.get(status, "none"),
                registered=str(v.get("created_at") or "")[:16].replace("T", " "),
                trained_by=v.get("trained_by") or "-",
                window=_window(v.get("training_window")),
                auc=_figure(figures.get("auc"), 3),
                log_loss=_figure(figures.get("log_loss"), 4),
                reason=v.get("reason") or "-",
                events=[
                    {**e, "at": str(e["at"])[:16].replace("T", " ")}
                    for e in reversed(v.get("events", []))
                ],
            )
        )
    return out
