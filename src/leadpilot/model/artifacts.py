"""Save and load a ``ConversionModel``: LightGBM text files plus one JSON document (no pickle).

``MODEL_DIR/model.json`` holds the feature schema, category levels, per-rep state,
calibration map, training window, metrics and version id; ``bag_<i>.txt`` are the LightGBM
models in LightGBM's own text format. Loading checks that everything agrees.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb

from leadpilot import __version__
from leadpilot.errors import ModelError
from leadpilot.model.calibration import Calibrator
from leadpilot.model.evaluation import jsonable
from leadpilot.model.features import FeatureState
from leadpilot.model.glm import GLMStack

if TYPE_CHECKING:
    from leadpilot.model.estimator import ConversionModel

__all__ = ["FORMAT", "FORMAT_VERSION", "load_model", "save_model"]

FORMAT = "leadpilot-conversion-model"
FORMAT_VERSION = 1
MODEL_JSON = "model.json"


def save_model(model: ConversionModel, directory: Path) -> Path:
    """Write ``model`` into ``directory`` (created if needed); returns the JSON path."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for i, booster in enumerate(model.boosters_):
        name = f"trees_{i}.txt"
        booster.save_model(str(directory / name))
        files.append(name)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": model.version_,
        "leadpilot_version": __version__,
        "params": model.get_params(),
        "feature_names": model.feature_names_,
        "categorical_features": model.state_.categorical_names,
        "boosters": files,
        "n_rounds": model.n_rounds_,
        "feature_state": model.state_.to_json(),
        "calibration": model.calibrator_.to_json(),
        "glm": model.glm_.to_json(),
        "glm_c": model.glm_c_,
        "training_window": model.training_window_,
        "metrics": model.metrics_,
        "evaluation": model.evaluation_,
        "dropped_columns": model.dropped_columns_,
        "warnings": model.warnings_,
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


def load_model(directory: Path) -> ConversionModel:
    """Read a model written by :func:`save_model`, validating its schema."""
    from leadpilot.model.estimator import ConversionModel
    from leadpilot.model.training import model_version

    path = directory / MODEL_JSON
    if not path.is_file():
        raise _bad(directory, f"{MODEL_JSON} is missing")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise _bad(directory, f"{MODEL_JSON} is not readable JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _bad(directory, f"{MODEL_JSON} is not a {FORMAT} document")
    if doc.get("format_version") != FORMAT_VERSION:
        raise _bad(
            directory,
            f"format version {doc.get('format_version')!r} is not {FORMAT_VERSION} "
            "(written by another leadpilot release; retrain it)",
        )
    try:
        params = dict(doc["params"])
        params["interactions"] = tuple(params.get("interactions", ()))
        model = ConversionModel(**params)
        state = FeatureState.from_json(doc["feature_state"])
        calibrator = Calibrator.from_json(doc["calibration"])
        glm = GLMStack.from_json(doc["glm"])
        names = list(doc["feature_names"])
        files = list(doc["boosters"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(directory, f"{MODEL_JSON} is incomplete or malformed ({exc})") from None
    if state.feature_names != names:
        raise _bad(directory, "its feature list does not match its feature state")
    boosters = []
    for name in files:
        file = directory / name
        if not file.is_file():
            raise _bad(directory, f"model file {name} is missing")
        try:
            booster = lgb.Booster(model_file=str(file))
        except lgb.basic.LightGBMError as exc:
            raise _bad(directory, f"{name} is not a LightGBM model ({exc})") from None
        if booster.feature_name() != names:
            raise _bad(directory, f"{name} was trained on other features than {MODEL_JSON} lists")
        boosters.append(booster)
    if not boosters:
        raise _bad(directory, "it lists no model files")
    model.state_ = state
    model.calibrator_ = calibrator
    model.glm_ = glm
    model.glm_c_ = float(doc.get("glm_c", math.nan))
    model._set_boosters(boosters)
    model._prepare_scoring()
    model.n_rounds_ = int(doc.get("n_rounds", 0))
    model.training_window_ = doc.get("training_window", {})
    model.metrics_ = doc.get("metrics", {})
    model.evaluation_ = doc.get("evaluation", {})
    model.dropped_columns_ = doc.get("dropped_columns", [])
    model.warnings_ = doc.get("warnings", [])
    model.version_ = str(doc.get("version"))
    if model_version(model) != model.version_:
        raise _bad(directory, "its files do not match its version id (edited or mixed files)")
    return model
