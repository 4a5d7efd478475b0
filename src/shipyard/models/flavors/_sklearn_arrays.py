"""Predicting validated frames as arrays: scikit-learn's DataFrame checks, done once, not per call.

A fitted estimator checks every DataFrame it is given: feature names (through narwhals) and the
dtypes of every column, ~0.3 ms of a ~0.7 ms one-row ``predict()`` of a gradient-boosted model.
When a frame's columns are exactly the fitted ``feature_names_in_``, in order, and it is one
NumPy block of numbers, the array scikit-learn would extract from it is ``frame.to_numpy()``:
giving it that array predicts the same numbers without the checks. An estimator that was fitted
with feature names warns when given an array, so the array goes to a *twin*: a shallow copy
sharing every fitted attribute except ``feature_names_in_`` (the names are checked here instead).
No global state (warning filters, the estimator itself) is touched, so concurrent calls are safe.

Only where names carry no meaning beyond that check: scikit-learn's own estimators, and
``Pipeline``s of them, whose fitted parts were given arrays (a ``ColumnTransformer`` selects by
name, so a model holding one, or any part fitted on a DataFrame, keeps the DataFrame path), with
no pandas output configured; other frames (other columns, several dtypes, extension dtypes)
always take the DataFrame path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ArrayPath", "array_path"]

_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
_NAME_USERS = (  # scikit-learn modules whose estimators select or pass on columns by name
    "sklearn.compose",
    "sklearn.pipeline",
    "sklearn.preprocessing._function_transformer",
)


class ArrayPath:
    """``accepts(frame)``, then ``predict(frame)`` through the twin; else use the DataFrame."""

    __slots__ = ("_checked", "_method", "_names")

    def __init__(self, method: Callable[[Any], Any], names: tuple[str, ...]) -> None:
        self._method = method
        self._names = names
        self._checked: pd.Index | None = None  # the last Index found equal to ``names``

    def accepts(self, frame: pd.DataFrame) -> bool:
        """The fitted columns in order, held as one NumPy block of numbers."""
        columns = frame.columns
        # a server decodes every request onto one shared Index: one identity test, not 20 strings
        if columns is not self._checked:
            if len(columns) != len(self._names) or tuple(columns) != self._names:
                return False
            self._checked = columns  # Index values are immutable
        blocks: Any = getattr(frame._mgr, "blocks", ())
        if len(blocks) != 1:
            return False
        dtype = blocks[0].dtype
        # booleans are left out: scikit-learn converts boolean frame columns on a path of their own
        return isinstance(dtype, np.dtype) and dtype.kind in "iuf"

    def predict(self, frame: pd.DataFrame) -> Any:
        return self._method(frame.to_numpy())


def array_path(model: Any, predict_fn: str) -> ArrayPath | None:
    """The array path of ``model.<predict_fn>``, or ``None`` where names may matter."""
    if predict_fn not in _METHODS:  # transform's output may be a frame named after the input
        return None
    names = getattr(model, "feature_names_in_", None)
    if names is None or not all(isinstance(n, str) for n in names):
        return None
    twin = _twin(model)
    if twin is None:
        return None
    return ArrayPath(getattr(twin, predict_fn), tuple(names))


def _twin(model: Any) -> Any:
    if _module(model) == "sklearn.pipeline" and type(model).__name__ == "Pipeline":
        steps = getattr(model, "steps", None)
        if not steps or not all(_plain(step, root=i == 0) for i, (_, step) in enumerate(steps)):
            return None
        first_name, first = steps[0]
        return _copy(model, steps=[(first_name, _without_names(first)), *steps[1:]])
    if not _plain(model, root=True):
        return None
    return _without_names(model)


def _plain(estimator: Any, root: bool) -> bool:
    """A scikit-learn estimator (or ``"passthrough"``/``None`` step) that uses names only to
    check them: its own module is not a name user, no pandas output, and no fitted part of it
    saw feature names (``root``: only this object may have them, and must, to need a twin)."""
    if estimator is None or estimator == "passthrough":
        return not root
    module = _module(estimator)
    if not module.startswith("sklearn.") or module.startswith(_NAME_USERS):
        return False
    state = vars(estimator) if hasattr(estimator, "__dict__") else {}
    if "_sklearn_output_config" in state:
        return False
    if root != ("feature_names_in_" in state):
        return False
    return not any(_named_part(value, depth=0) for value in state.values())


def _named_part(value: Any, depth: int) -> bool:
    """Whether ``value`` holds a fitted scikit-learn object that saw feature names."""
    if depth > 5:
        return True  # deeper than we look: assume it may
    if isinstance(value, list | tuple):
        return any(_named_part(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return any(_named_part(item, depth + 1) for item in value.values())
    if not _module(value).startswith("sklearn.") or not hasattr(value, "__dict__"):
        return False
    state = vars(value)
    if "feature_names_in_" in state or "_sklearn_output_config" in state:
        return True
    if _module(value).startswith(_NAME_USERS):
        return True
    return any(_named_part(item, depth + 1) for item in state.values())


def _without_names(estimator: Any) -> Any:
    twin = _copy(estimator)
    del twin.__dict__["feature_names_in_"]
    return twin


def _copy(estimator: Any, **changes: Any) -> Any:
    """A shallow copy (no pickling round trip: no version checks, no copied arrays)."""
    twin = object.__new__(type(estimator))
    twin.__dict__.update(vars(estimator))
    twin.__dict__.update(changes)
    return twin


def _module(value: Any) -> str:
    return str(getattr(type(value), "__module__", "") or "")
