"""Validated frames predicted as arrays: the same numbers as scikit-learn given the DataFrame, no
feature-name warning, and the DataFrame kept wherever names may matter."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import shipyard.sklearn
from shipyard.models.flavors._sklearn_arrays import array_path
from shipyard.pyfunc import load_model

COLUMNS = ["a", "b", "c", "d"]


def table(rows: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 4)), columns=COLUMNS)
    target = ((frame["a"] + frame["b"] * frame["c"]) > 0).astype(int).to_numpy()
    return frame, target


MODELS: dict[str, Callable[[], Any]] = {
    "hist_gradient_boosting": lambda: HistGradientBoostingClassifier(max_iter=15, random_state=0),
    "logistic_regression": lambda: LogisticRegression(),
    "scaled_logistic_pipeline": lambda: make_pipeline(StandardScaler(), LogisticRegression()),
    "random_forest_regressor": lambda: RandomForestRegressor(n_estimators=5, random_state=0),
}


def fitted(kind: str) -> Any:
    frame, target = table()
    return MODELS[kind]().fit(frame, target)


@pytest.mark.filterwarnings("error")  # "X does not have valid feature names" would fail here
@pytest.mark.parametrize(
    ("kind", "predict_fn"),
    [
        (kind, fn)
        for kind in sorted(MODELS)
        for fn in ("predict", "predict_proba")
        if hasattr(MODELS[kind](), fn)  # a regressor has no predict_proba
    ],
)
def test_loaded_models_predict_exactly_what_the_estimator_predicts_of_the_frame(
    tmp_path: Path, kind: str, predict_fn: str
) -> None:
    model = fitted(kind)
    frame, _ = table(rows=50, seed=1)
    shipyard.sklearn.save_model(model, tmp_path / "m", input_example=frame.head(3),
                                predict_fn=predict_fn)  # fmt: skip
    loaded = load_model(tmp_path / "m")
    expected = getattr(model, predict_fn)(frame)
    assert array_path(model, predict_fn) is not None  # the fast path is the one being tested
    np.testing.assert_array_equal(loaded.predict(frame), expected)
    for i in range(5):  # one-row frames, as a server decodes them
        row = pd.DataFrame(frame.iloc[[i]].to_numpy(), columns=pd.Index(COLUMNS, dtype=object))
        np.testing.assert_array_equal(loaded.predict(row), getattr(model, predict_fn)(row))
    reordered = frame[list(reversed(COLUMNS))]  # the signature puts them back in order
    np.testing.assert_array_equal(loaded.predict(reordered), expected)


@pytest.mark.filterwarnings("error")
def test_frames_of_other_dtypes_give_the_same_numbers_as_the_dataframe_path() -> None:
    model = fitted("logistic_regression")
    path = array_path(model, "predict_proba")
    assert path is not None
    frame, _ = table(rows=40, seed=2)
    for converted in (frame.astype("float32"), (frame * 10).round().astype("int64")):
        assert path.accepts(converted)
        np.testing.assert_array_equal(path.predict(converted), model.predict_proba(converted))


def test_only_the_fitted_columns_as_one_block_of_numbers_are_accepted() -> None:
    path = array_path(fitted("hist_gradient_boosting"), "predict")
    assert path is not None
    frame, _ = table(rows=3)
    assert path.accepts(frame)
    assert path.accepts(frame.copy())  # an equal Index that is another object
    assert not path.accepts(frame[list(reversed(COLUMNS))])  # order matters to scikit-learn
    assert not path.accepts(frame.rename(columns={"d": "e"}))
    assert not path.accepts(frame[["a", "b", "c"]])
    mixed = frame.assign(d=frame["d"].round().astype("int64"))  # two blocks: float and int
    assert not path.accepts(mixed)
    assert not path.accepts(frame.astype("Float64"))  # an extension dtype
    assert not path.accepts(frame.astype(object))
    assert not path.accepts(frame > 0)


def column_transformer_pipeline() -> Pipeline:
    encode = ColumnTransformer(
        [("city", OneHotEncoder(handle_unknown="ignore"), ["city"])], remainder="passthrough"
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression())])


def test_models_that_select_or_saw_columns_by_name_keep_the_dataframe_path() -> None:
    frame, target = table()
    cities = frame.assign(city=np.where(frame["a"] > 0, "north", "south"))
    numeric_pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, target)
    assert array_path(numeric_pipeline, "predict") is not None
    refused: dict[str, tuple[Any, str]] = {
        "column transformer": (column_transformer_pipeline().fit(cities, target), "predict"),
        "categorical HGB": (
            HistGradientBoostingClassifier(max_iter=5, categorical_features=["b"]).fit(
                frame.assign(b=(frame["b"] > 0).astype(int)), target
            ),
            "predict",
        ),
        "function transformer": (
            make_pipeline(FunctionTransformer(lambda x: x), LogisticRegression()).fit(
                frame, target
            ),
            "predict",
        ),
        "search over a frame": (
            GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=2).fit(frame, target),
            "predict",
        ),
        "pandas output": (
            make_pipeline(
                StandardScaler().set_output(transform="pandas"), LogisticRegression()
            ).fit(frame, target),
            "predict",
        ),
        "transform": (StandardScaler().fit(frame), "transform"),
        "fitted without names": (LogisticRegression().fit(frame.to_numpy(), target), "predict"),
    }
    for what, (model, predict_fn) in refused.items():
        assert array_path(model, predict_fn) is None, what


@pytest.mark.filterwarnings("error")
def test_a_column_transformer_pipeline_served_from_its_package_predicts_by_name(
    tmp_path: Path,
) -> None:
    frame, target = table()
    cities = frame.assign(city=np.where(frame["a"] > 0, "north", "south"))
    model = column_transformer_pipeline().fit(cities, target)
    shipyard.sklearn.save_model(model, tmp_path / "m", input_example=cities.head(3))
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(cities), model.predict(cities))


@pytest.mark.filterwarnings("error")
def test_concurrent_callers_get_their_own_rows_and_no_warning(tmp_path: Path) -> None:
    model = fitted("hist_gradient_boosting")
    frame, _ = table(rows=64, seed=3)
    shipyard.sklearn.save_model(model, tmp_path / "m", input_example=frame.head(3),
                                predict_fn="predict_proba")  # fmt: skip
    loaded = load_model(tmp_path / "m")
    index = pd.Index(COLUMNS, dtype=object)
    rows = [pd.DataFrame(frame.iloc[[i]].to_numpy(), columns=index) for i in range(64)]
    expected = [model.predict_proba(row) for row in rows]
    wrong: list[int] = []
    errors: list[BaseException] = []

    def client(offset: int) -> None:
        try:
            for _ in range(5):
                for i in range(offset, 64, 4):
                    if not np.array_equal(loaded.predict(rows[i]), expected[i]):
                        wrong.append(i)
        except BaseException as exc:  # a warning turned error in a thread
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and wrong == []
