"""How often a simulated policy would meet its response SLAs, from reps' past response times."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from leadpilot.schema import Decision

__all__ = ["LOAD_BUCKETS", "sla_attainment"]

# Leads a rep got that day: the buckets whose past delays stand for a simulated day's load.
LOAD_BUCKETS = (1, 3, 6, 11)  # 1-2, 3-5, 6-10, 11+
MIN_SAMPLE = 20  # fewer past leads in a rep's bucket than this: use all of the rep's leads


def _bucket(load: NDArray[np.int64] | int) -> NDArray[np.int64]:
    return np.searchsorted(LOAD_BUCKETS, np.asarray(load), side="right") - 1


def sla_attainment(decisions: Sequence[Decision], history: pd.DataFrame) -> dict[str, Any] | None:
    """Estimated share of the decisions with an SLA whose first touch comes within it: for
    each, the share of the rep's past leads, on days the rep got a similar number of leads
    (``LOAD_BUCKETS``) as the simulation gives them that day, contacted within the SLA
    window (the team's when the rep has no past leads). ``None`` when the history has no
    contact delays. Returns ``{decisions_with_sla, attainment, by_lane}``."""
    cols = ["rep_id", "created_at", "time_to_contact_hours"]
    if not set(cols) <= set(history.columns):
        return None
    past = history[cols].dropna()
    if past.empty:
        return None
    day = past["created_at"].dt.floor("D")
    load = past.groupby([past["rep_id"], day])["rep_id"].transform("size").to_numpy()
    delays: dict[tuple[str, int], NDArray[np.float64]] = {}
    keys = past["rep_id"].astype(str) + "|" + pd.Series(_bucket(load), index=past.index).astype(str)
    for key, g in past.groupby(keys)["time_to_contact_hours"]:
        rep_id, bucket = str(key).rsplit("|", 1)
        delays[(rep_id, int(bucket))] = np.sort(g.to_numpy(dtype=float))
    by_rep = {str(r): np.sort(g.to_numpy(dtype=float))
              for r, g in past.groupby("rep_id")["time_to_contact_hours"]}  # fmt: skip
    team = np.sort(past["time_to_contact_hours"].to_numpy(dtype=float))
    sim_load = Counter((d.rep_id, d.rep_local_day) for d in decisions if d.rep_id is not None)
    buckets = {load: int(_bucket(load)) for load in set(sim_load.values())}
    # Each decision's window goes with its sample; the samples are then searched once each
    # for all their windows (the same shares as one search per decision).
    lanes: list[str] = []
    windows: dict[int, list[float]] = defaultdict(list)
    slots: dict[int, list[int]] = defaultdict(list)
    samples: dict[int, NDArray[np.float64]] = {}
    for d in decisions:
        if d.rep_id is None or d.sla_deadline is None:
            continue
        window = (d.sla_deadline - d.decided_at).total_seconds() / 3600
        b = buckets[sim_load[(d.rep_id, d.rep_local_day)]]
        sample = delays.get((d.rep_id, b))
        if sample is None or len(sample) < MIN_SAMPLE:
            sample = by_rep.get(d.rep_id, team)
        samples[id(sample)] = sample
        windows[id(sample)].append(window)
        slots[id(sample)].append(len(lanes))
        lanes.append(d.lane or "(none)")
    if not lanes:
        return None
    within = np.empty(len(lanes))
    for ref, kept in samples.items():
        found = np.searchsorted(kept, np.array(windows[ref], dtype=np.float64), side="right")
        within[slots[ref]] = found / len(kept)
    shares: dict[str, list[float]] = defaultdict(list)
    for lane, share in zip(lanes, within.tolist(), strict=True):
        shares[lane].append(share)
    every = [s for v in shares.values() for s in v]
    return {
        "decisions_with_sla": len(every),
        "attainment": float(np.mean(every)),
        "by_lane": {lane: float(np.mean(v)) for lane, v in shares.items()},
    }
