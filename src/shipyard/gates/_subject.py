"""The models a gate looks at (candidate and baseline) and the evaluation data they share.

A ``Subject`` is a loaded package plus what checks read without predicting (requirements, bytes
on disk, signature). ``GateContext`` predicts each model on the evaluation rows once and hands the
same answers to every check that needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidParameter
from shipyard.gates._metrics import Outputs
from shipyard.gates._policy import Policy
from shipyard.models import PyFuncModel, Signature
from shipyard.models._locate import open_package
from shipyard.models._pyfunc import load_local
from shipyard.models._requirements import read_requirements
from shipyard.settings import Settings

__all__ = ["GateContext", "PredictionFailed", "Subject", "load_subject", "predict_outputs"]

_Array = np.ndarray[Any, Any]
_MAX_CLASSES = 50  # integer labels with more distinct values than this are a regression target


class PredictionFailed(Exception):
    """A model raised while predicting on the evaluation data; checks report it as a failure."""

    def __init__(self, who: str, error: BaseException) -> None:
        super().__init__(f"the {who} failed to predict on the evaluation data: {_describe(error)}")


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


@dataclass(slots=True)
class Subject:
    """A loaded model package: ``name`` is how reports call it (``models:/m/3``, a folder)."""

    name: str
    model: PyFuncModel
    requirements: list[str]
    size_bytes: int

    @property
    def signature(self) -> Signature | None:
        return self.model.signature

    def feature_names(self, data: pd.DataFrame, exclude: set[str]) -> list[str]:
        """The columns this model reads: its signature's, else what the estimator was fitted
        on, else every column but the label."""
        signature = self.signature
        if (
            signature is not None
            and signature.inputs is not None
            and not signature.inputs.is_tensor
        ):
            return [str(n) for n in signature.inputs.names if n is not None and n in data.columns]
        fitted = getattr(self.model.unwrap(), "feature_names_in_", None)
        if fitted is not None:
            return [str(n) for n in fitted if n in data.columns]
        return [str(c) for c in data.columns if c not in exclude]


def load_subject(
    uri: str | Path,
    *,
    trusted: bool = False,
    settings: Settings | None = None,
    tracking_uri: str | None = None,
    name: str | None = None,
) -> Subject:
    """Fetch and load the package at ``uri`` (any URI ``shipyard.pyfunc.load_model`` takes)."""
    settings = settings or Settings.from_env()
    package = open_package(str(uri), settings, tracking_uri)
    try:
        manifest, impl = load_local(package.path, trusted or settings.trust_pickle)
        size = sum(p.stat().st_size for p in package.path.rglob("*") if p.is_file())
        requirements = read_requirements(package.path)
    except BaseException:
        package.close()
        raise
    model = PyFuncModel(impl, manifest, package)
    return Subject(name or str(uri), model, requirements, size)


def predict_outputs(model: PyFuncModel, features: pd.DataFrame) -> Outputs:
    """Labels (or values) from ``predict()``; probabilities from the estimator's
    ``predict_proba`` when it has one, or from ``predict()`` itself when it returns them."""
    answer = model.predict(features)
    values = (
        answer.to_numpy() if isinstance(answer, pd.DataFrame | pd.Series) else np.asarray(answer)
    )
    raw = model.unwrap()
    classes = getattr(raw, "classes_", None)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 2 and values.dtype.kind == "f":
        names: _Array = np.asarray(classes) if classes is not None else np.arange(values.shape[1])
        return Outputs(names[np.argmax(values, axis=1)], values, names)
    proba: np.ndarray[Any, Any] | None = None
    if classes is not None and callable(getattr(raw, "predict_proba", None)):
        try:
            proba = np.asarray(raw.predict_proba(features))
        except Exception:  # probabilities are a bonus; calibration says when they are missing
            proba = None
    found = np.asarray(classes) if proba is not None else None
    return Outputs(values, proba, found)


@dataclass(slots=True)
class GateContext:
    """Everything a check reads: the two models, the evaluation data and the policy."""

    candidate: Subject
    baseline: Subject | None
    data: pd.DataFrame
    policy: Policy
    _outputs: dict[int, Outputs | PredictionFailed] = field(default_factory=dict)
    _features: dict[int, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        label = self.policy.label
        if label is not None and label not in self.data.columns:
            columns = ", ".join(map(str, self.data.columns[:20]))
            raise InvalidParameter(
                f"The evaluation data has no label column {label!r} (the policy's `label`); "
                f"its columns are {columns}"
            )

    @property
    def y_true(self) -> _Array:
        if self.policy.label is None:
            raise InvalidParameter("This check needs the policy's `label` (the target column)")
        return self.data[self.policy.label].to_numpy()

    @property
    def rows(self) -> int:
        return len(self.data)

    def features(self, subject: Subject) -> pd.DataFrame:
        key = id(subject)
        if key not in self._features:
            exclude = {self.policy.label} if self.policy.label else set()
            self._features[key] = self.data[subject.feature_names(self.data, exclude)]
        return self._features[key]

    def outputs(self, subject: Subject) -> Outputs:
        """The subject's answers on the evaluation rows; ``PredictionFailed`` if it raised."""
        key = id(subject)
        if key not in self._outputs:
            try:
                self._outputs[key] = predict_outputs(subject.model, self.features(subject))
            except Exception as exc:
                who = "candidate" if subject is self.candidate else "baseline"
                self._outputs[key] = PredictionFailed(who, exc)
        found = self._outputs[key]
        if isinstance(found, PredictionFailed):
            raise found
        return found

    @property
    def task(self) -> str:
        if self.policy.task is not None:
            return self.policy.task
        y = self.data[self.policy.label] if self.policy.label else None
        if y is None:
            return "regression"
        kind = y.dtype.kind if isinstance(y.dtype, np.dtype) else "O"
        if kind in "OUSb" or isinstance(y.dtype, pd.CategoricalDtype | pd.StringDtype):
            return "classification"
        if kind in "iu" and y.nunique() <= _MAX_CLASSES:
            return "classification"
        return "regression"

    @property
    def classes(self) -> _Array | None:
        if self.task != "classification":
            return None
        return np.unique(self.y_true)

    @property
    def positive(self) -> Any:
        if self.policy.positive_label is not None:
            return self.policy.positive_label
        classes = self.classes
        if classes is None or len(classes) == 0:
            return 1
        for candidate in (1, True, "1", "yes", "true", "positive"):
            if candidate in classes:
                return candidate
        return classes[-1]
