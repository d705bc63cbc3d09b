"""Save and load a fitted conversion model: LightGBM text files plus one JSON document (no
pickle).

``MODEL_DIR/model.json`` holds the estimator's parameters and the
:class:`~leadpilot.model.fitted.FittedConversion` record (feature state, linear part,
calibration map, training window, importance, version id); ``trees_<i>.txt`` are the
LightGBM models in LightGBM's own text format. Loading checks that everything agrees.

Format 2 (this release) keeps evaluation results out of the model (they live in
``metrics.json`` beside it). Format 1 folders (before the fitted-record refactor) still
load: their importance and the rest of the record are read from where format 1 kept them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightgbm as lgb

from leadpilot import __version__
from leadpilot.errors import ModelError
from leadpilot.model.calibration import Calibrator
from leadpilot.model.features import FeatureState
from leadpilot.model.fitted import FittedConversion, content_version
from leadpilot.model.glm import GLMStack
from leadpilot.model.metrics import jsonable
from leadpilot.model.rep_trees import HEADER as REP_TREES_HEADER
from leadpilot.model.rep_trees import RepTrees

__all__ = ["FORMAT", "FORMAT_VERSION", "load_fitted", "save_fitted"]

FORMAT = "leadpilot-conversion-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MODEL_JSON = "model.json"


def save_fitted(fitted: FittedConversion, params: Mapping[str, Any], directory: Path) -> Path:
    """Write ``fitted`` and the parameters that made it into ``directory`` (created if
    needed); returns the JSON path."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for i, booster in enumerate(fitted.boosters):
        name = f"trees_{i}.txt"
        booster.save_model(str(directory / name))
        files.append(name)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": fitted.version,
        "leadpilot_version": __version__,
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
        "feature_names": fitted.feature_names,
        "categorical_features": fitted.state.categorical_names,
        "boosters": files,
        "n_rounds": fitted.n_rounds,
        "feature_state": fitted.state.to_json(),
        "calibration": fitted.calibrator.to_json(),
        "glm": fitted.glm.to_json(),
        "glm_c": fitted.glm_c,
        "training_window": fitted.training_window,
        "importance": fitted.importance,
        "rep_effects": fitted.rep_effects,
        "dropped_columns": fitted.dropped_columns,
        "warnings": fitted.warnings,
        "guards": fitted.guards,
    }
    path = directory / MODEL_JSON
    path.write_text(json.dumps(jsonable(doc), indent=1))
    return path


def _bad(directory: Path, what: str) -> ModelError:
    return ModelError(
        f"{directory} does not hold a valid leadpilot model: {what}",
        hint="train one with `leadpilot train HISTORY --out MODEL_DIR` and point to that folder",
        details={"path": str(directory)},
    )


def _read_doc(directory: Path) -> dict[str, Any]:
    path = directory / MODEL_JSON
    if not path.is_file():
        raise _bad(directory, f"{MODEL_JSON} is missing")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise _bad(directory, f"{MODEL_JSON} is not readable JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _bad(directory, f"{MODEL_JSON} is not a {FORMAT} document")
    if doc.get("format_version") not in READABLE_VERSIONS:
        raise _bad(
            directory,
            f"format version {doc.get('format_version')!r} is not one of {READABLE_VERSIONS} "
            "(written by another leadpilot release; retrain it)",
        )
    return doc


def _boosters(
    directory: Path, files: list[str], names: list[str]
) -> tuple[lgb.Booster | RepTrees, ...]:
    boosters: list[lgb.Booster | RepTrees] = []
    for name in files:
        file = directory / name
        if not file.is_file():
            raise _bad(directory, f"model file {name} is missing")
        booster: lgb.Booster | RepTrees
        try:
            text = file.read_text(encoding="utf-8")
            if text.startswith(REP_TREES_HEADER):
                booster = RepTrees.from_string(text)
            else:
                booster = lgb.Booster(model_str=text)
        except (lgb.basic.LightGBMError, ValueError, UnicodeDecodeError) as exc:
            raise _bad(directory, f"{name} is not a LightGBM model ({exc})") from None
        if booster.feature_name() != names:
            raise _bad(directory, f"{name} was trained on other features than {MODEL_JSON} lists")
        boosters.append(booster)
    if not boosters:
        raise _bad(directory, "it lists no model files")
    return tuple(boosters)


def load_fitted(directory: Path) -> tuple[dict[str, Any], FittedConversion]:
    """Read ``(parameters, fitted record)`` written by :func:`save_fitted` (or a format 1
    folder), validating the schema and the version hash."""
    doc = _read_doc(directory)
    try:
        params = dict(doc["params"])
        params["interactions"] = tuple(params.get("interactions", ()))
        params["allow_leaky"] = tuple(params.get("allow_leaky", ()))
        state = FeatureState.from_json(doc["feature_state"])
        calibrator = Calibrator.from_json(doc["calibration"])
        glm = GLMStack.from_json(doc["glm"])
        names = list(doc["feature_names"])
        files = list(doc["boosters"])
        prior = float(params["rep_prior_strength"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(directory, f"{MODEL_JSON} is incomplete or malformed ({exc})") from None
    if state.feature_names != names:
        raise _bad(directory, "its feature list does not match its feature state")
    boosters = _boosters(directory, files, names)
    # Format 1 kept the importance inside its evaluation results.
    importance = doc.get("importance", doc.get("evaluation", {}).get("importance", []))
    glm_c = doc.get("glm_c")
    fitted = FittedConversion(
        state=state,
        glm=glm,
        boosters=boosters,
        calibrator=calibrator,
        rep_prior_strength=prior,
        glm_c=math.nan if glm_c is None else float(glm_c),
        n_rounds=int(doc.get("n_rounds", 0)),
        training_window=dict(doc.get("training_window", {})),
        version=str(doc.get("version")),
        dropped_columns=list(doc.get("dropped_columns", [])),
        warnings=list(doc.get("warnings", [])),
        guards=list(doc.get("guards", [])),
        importance=list(importance),
        rep_effects=list(doc.get("rep_effects", [])),
    )
    if content_version(state, glm, boosters, calibrator) != fitted.version:
        raise _bad(directory, "its files do not match its version id (edited or mixed files)")
    return params, fitted
