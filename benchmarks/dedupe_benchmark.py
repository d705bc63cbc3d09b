"""Pairwise precision / recall / F1 of leadpilot's dedupe against known entity ids.

Data sets (read-only, see their READMEs): Febrl 3 (5,000 synthetic people, 2,000 entities)
and the Chicago early-childhood sites (3,337 real organisation records, 1,162 entities); plus
the leads of a ``leadpilot synth`` world (repeat submissions known from its ground truth).

A predicted pair is any two records in the same predicted cluster (after transitive
closure); a true pair is any two records with the same entity id. Also shown: the scores of
the pair classifier before clustering, and the recall ceiling of the candidate indexing.

Run: ``python benchmarks/dedupe_benchmark.py [--data DIR] [--threshold 0.5]``
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from _figures import record
from rich.console import Console
from rich.table import Table

from leadpilot.ingest.dedupe import DedupeResult, find_duplicate_records, find_duplicates
from leadpilot.ingest.linkage import LinkageSpec, organisations_spec, people_spec
from leadpilot.synth import generate_world

Pair = tuple[str, str]


def _pairs_of_groups(groups: list[list[str]]) -> set[Pair]:
    return {(a, b) if a < b else (b, a) for g in groups for a, b in itertools.combinations(g, 2)}


def _scores(predicted: set[Pair], truth: set[Pair]) -> tuple[float, float, float]:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def load_febrl3(data: Path) -> tuple[pd.DataFrame, pd.Series, LinkageSpec, str]:
    frame = pd.read_csv(
        data / "dedupe-febrl3" / "febrl_dataset3.csv", skipinitialspace=True, dtype=str
    )
    entity = frame.rec_id.str.extract(r"rec-(\d+)-")[0]
    return frame, entity, people_spec(frame.columns), "rec_id"


def load_chicago(data: Path) -> tuple[pd.DataFrame, pd.Series, LinkageSpec, str]:
    raw = pd.read_csv(
        data / "dedupe-chicago-early-childhood" / "csv_example_input_with_true_ids.csv",
        dtype=str,
    )
    frame = pd.DataFrame(
        {
            "id": raw["Id"],
            "name": raw["Site name"],
            "address": raw["Address"],
            "zip": raw["Zip"],
            "phone": raw["Phone"],
            "email": raw["Email Address"],
        }
    )
    return frame, raw["True Id"], organisations_spec(frame.columns), "id"


def load_synthetic(data: Path) -> tuple[pd.DataFrame, pd.Series, LinkageSpec | None, str]:
    """20,000 history leads of ``leadpilot synth`` (seed 7); truth maps each repeat
    submission to its original. Lead dedupe runs with its own fields (spec None)."""
    world = generate_world(n_leads=20_000, n_reps=20, n_new_leads=200, seed=7)
    frame = world.history
    original = {d: o for d, o in world.truth.duplicates.items() if d in set(frame.lead_id)}

    def root(lead: str) -> str:
        while lead in original:
            lead = original[lead]
        return lead

    return frame, frame.lead_id.map(root), None, "lead_id"


def evaluate(
    name: str,
    loader: Callable[[Path], tuple[pd.DataFrame, pd.Series, LinkageSpec | None, str]],
    data: Path,
    threshold: float,
) -> dict[str, object]:
    frame, entity, spec, id_column = loader(data)
    ids = frame[id_column].astype(str)
    truth_groups = ids.groupby(entity.to_numpy()).agg(list).tolist()
    truth = _pairs_of_groups(truth_groups)
    t0 = time.perf_counter()
    result: DedupeResult = (
        find_duplicates(frame, threshold=threshold)
        if spec is None
        else find_duplicate_records(frame, spec, id_column=id_column, threshold=threshold)
    )
    seconds = time.perf_counter() - t0
    p, r, f1 = _scores(_pairs_of_groups(result.clusters), truth)
    true_dups = len(frame) - len(truth_groups)
    return {
        "data": name,
        "records": len(frame),
        "true pairs": len(truth),
        "precision": p,
        "recall": r,
        "F1": f1,
        "merges": len(result.pairs),
        "dup rate (found / true)": f"{result.duplicate_rate:.1%} / {true_dups / len(frame):.1%}",
        "model": result.model.estimator if result.model else "-",
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("LEADPILOT_DATA_DIR", "/work/shared/data"))
    )
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    rows = [
        evaluate("febrl3 (people)", load_febrl3, args.data, args.threshold),
        evaluate("chicago (organisations)", load_chicago, args.data, args.threshold),
        evaluate("synthetic leads (leads)", load_synthetic, args.data, args.threshold),
    ]
    table = Table(title=f"Dedupe quality (pairwise, threshold P(match) >= {args.threshold})")
    for column in rows[0]:
        table.add_column(column, justify="left" if column in {"data", "model"} else "right")
    for row in rows:
        table.add_row(
            *(
                f"{v:.3f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
                for v in row.values()
            )
        )
    Console(width=200).print(table)
    for row in rows:
        record(
            f"dedupe pairwise F1, {row['data']}",
            float(row["F1"]),  # type: ignore[arg-type]
            "",
            note=f"{row['records']:,} records, precision {row['precision']:.3f}, recall "
            f"{row['recall']:.3f}, {row['seconds']:.1f} s",
        )


if __name__ == "__main__":
    main()
