"""The deal-value model saved beside the conversion model it was fitted with.

Why beside it, not learnt by the service: a value objective's decisions must be reproducible
and auditable like the conversion model's. ``leadpilot train`` and ``leadpilot retrain`` fit
both models on the same history; the value model goes into the model's folder as
``value.json`` (its parameters and content version) and ``value.npz`` (its coefficient and
covariance arrays: NumPy's format, read without pickle), so the registry checksums it with
the model's own files (``model.checksums``), a champion swap changes both at once, and a
folder trained on a history without deal values simply has none (a value objective then
routes by conversions with the reason ``NO_VALUE_MODEL``).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from leadpilot.errors import DataValidationError, ModelError
from leadpilot.model.value import FittedValue, fit_value_model

__all__ = ["VALUE_FILES", "fit_and_save_value", "load_value", "save_value"]

VALUE_JSON = "value.json"
VALUE_ARRAYS = "value.npz"
VALUE_FILES = (VALUE_JSON, VALUE_ARRAYS)
FORMAT = "leadpilot-value-model"
FORMAT_VERSION = 1


def save_value(fitted: FittedValue, directory: Path) -> None:
    """Write ``fitted`` into the model folder ``directory``."""
    doc, arrays = fitted.to_json()
    directory.mkdir(parents=True, exist_ok=True)
    # np.savez stamps each entry with the time of writing; a fixed stamp keeps the bytes (and
    # so the registry's checksum) a function of the model alone.
    with zipfile.ZipFile(directory / VALUE_ARRAYS, "w", zipfile.ZIP_DEFLATED) as npz:
        for name, array in sorted(arrays.items()):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            npz.writestr(zipfile.ZipInfo(f"{name}.npy", (1980, 1, 1, 0, 0, 0)), buffer.getvalue())
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, **doc}
    (directory / VALUE_JSON).write_text(json.dumps(doc, indent=1), encoding="utf-8")


def fit_and_save_value(history: pd.DataFrame, directory: Path) -> tuple[FittedValue | None, str]:
    """Fit the value model on ``history`` and save it in ``directory``; without enough
    deals with a value, remove any value model left there by an earlier training (it would
    not belong to this model). Returns the model (or ``None``) and a sentence for the user."""
    try:
        fitted = fit_value_model(history)
    except DataValidationError as exc:
        for name in VALUE_FILES:
            (directory / name).unlink(missing_ok=True)
        return None, (
            f"No deal-value model: {exc.message}. Value objectives (pipeline_value, "
            "won_revenue) route by conversions with this model."
        )
    save_value(fitted, directory)
    won = (
        f", P(win) from {fitted.n_closed:,} closed opportunities"
        if fitted.win is not None
        else " (no won/lost outcomes: pipeline_value only)"
    )
    return fitted, (
        f"Deal-value model {fitted.version} learnt from {fitted.n_deals:,} deals with a "
        f"value{won}; saved beside the model for value objectives."
    )


def load_value(directory: Path) -> FittedValue | None:
    """The value model saved in the model folder ``directory``, or ``None`` when it has
    none. ``ModelError`` when its files are unreadable or do not match its version."""
    path = directory / VALUE_JSON
    if not path.is_file():
        return None
    hint = "retrain the model (`leadpilot train` or `leadpilot retrain`) to rewrite it"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} version {FORMAT_VERSION} document")
        with np.load(directory / VALUE_ARRAYS, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        fitted = FittedValue.from_json(doc, arrays)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"the deal-value model in {directory} cannot be read: {exc}",
            hint=hint,
            details={"path": str(path)},
        ) from exc
    if fitted.version != doc.get("version"):
        raise ModelError(
            f"the deal-value model in {directory} is {fitted.version}, but value.json says "
            f"{doc.get('version')}: its files were changed after it was saved",
            hint=hint,
            details={"path": str(path)},
        )
    return fitted
