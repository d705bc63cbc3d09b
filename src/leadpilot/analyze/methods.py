"""The Methods section: how each figure of the audit was computed, in words."""

from __future__ import annotations

from leadpilot.analyze.matches import FDR_LEVEL
from leadpilot.analyze.sections import Methods
from leadpilot.analyze.shrinkage import KAPPA_MAX

__all__ = ["methods_with_reps", "methods_without_reps"]

RATES = "rate = converted / leads with a known outcome; 95% Wilson score intervals."
TIME_TO_CONTACT = (
    "Bins with Wilson intervals; logistic fit on log hours; Spearman and point-biserial "
    "correlations."
)


def _kappa(kappa: float) -> str:
    return "full pooling (no spread beyond chance)" if kappa >= KAPPA_MAX else f"{kappa:.0f}"


def methods_without_reps(target: str, notes: list[str], seed: int, min_leads: int) -> Methods:
    """Methods of an audit whose history names no rep: sources and speed only."""
    return Methods(
        target=target,
        notes=notes,
        rates=RATES,
        shrinkage="Not run (no reps).",
        best_matches="Not run (no reps).",
        time_to_contact=TIME_TO_CONTACT,
        heterogeneity="Not run (no reps).",
        recommendations="Not run: the history does not name the rep of each lead.",
        limitations="Observational history.",
        seed=seed,
        min_leads=min_leads,
    )


def methods_with_reps(
    target: str,
    notes: list[str],
    seed: int,
    min_leads: int,
    *,
    cell_kappas: dict[str, float | None],
    rep_kappa: float,
    recommendations: str,
    min_mean_cell_leads: int,
) -> Methods:
    """Methods of the full audit; ``cell_kappas`` are the fitted prior strengths per dimension."""
    strengths = ", ".join(
        f"{d} {_kappa(KAPPA_MAX if k is None else k)}" for d, k in cell_kappas.items()
    )
    return Methods(
        target=target,
        notes=notes,
        rates=RATES,
        shrinkage=(
            "Empirical-Bayes beta-binomial: each rep x segment cell is shrunk toward what the "
            "rep's overall rate and the segment's rate predict together (log-odds additive), "
            "with the prior strength fitted by maximum marginal likelihood. Prior strengths "
            f"(pseudo-leads): {strengths}; reps {_kappa(rep_kappa)}."
        ),
        best_matches=(
            f"Cells with at least {min_leads} leads, Fisher's exact test (two-sided by doubling "
            "the smaller tail) of the rep against the other reps in the segment, "
            "Benjamini-Hochberg false discovery rate "
            f"{FDR_LEVEL:.0%}; lift = shrunk rate / segment rate - 1."
        ),
        time_to_contact=TIME_TO_CONTACT,
        heterogeneity=(
            "G-test of rep within segment with a permutation p-value (each segment's "
            "conversions re-dealt at random among its leads: exact however sparse the cells); "
            "G-test of rep x segment interaction against the additive model (fitted by "
            "iterative proportional fitting) with a parametric-bootstrap p-value, run only when "
            f"cells average at least {min_mean_cell_leads} leads."
        ),
        recommendations=recommendations,
        limitations=(
            "Observational history: reps were not assigned at random, so part of any rep "
            "difference may come from which leads they were given (a randomised holdout "
            "measures it without that bias). Shrinkage intervals cap each prior's strength at "
            "the leads its mean rests on, so they are not over-confident for small reps."
        ),
        seed=seed,
        min_leads=min_leads,
    )
