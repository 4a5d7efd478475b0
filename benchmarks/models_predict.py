"""Model benchmark: ``predict()`` overhead over the raw scikit-learn call, and ``load_model`` time.

Same run, same package folders, three callers:

- raw: the fitted estimator's own ``predict`` (the floor);
- Shipyard: ``shipyard.pyfunc.load_model(folder).predict`` (signature checks and safe conversions);
- MLflow: ``mlflow.pyfunc.load_model(folder).predict`` (mlflow-skinny 3.17, its own schema checks).

Overhead is measured in paired rounds (raw, then each wrapper, on the same input) and reported as
the median per-call difference, so machine noise that hits a whole round cancels out. Targets
(issue 4): <= 100 us at 1 row, <= 10% at 10,000 rows. Load time is for a ~100 MB random forest,
saved with skops (the default) and with cloudpickle.

    .venv/bin/python benchmarks/models_predict.py [--quick] [--trees N] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import sklearn
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")  # MLflow refuses skops too
warnings.filterwarnings("ignore")

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402

import shipyard  # noqa: E402
import shipyard.pyfunc  # noqa: E402
import shipyard.sklearn  # noqa: E402

Predict = Callable[[Any], Any]


@dataclass
class Row:
    model: str
    rows: int
    raw_us: float
    shipyard_us: float  # overhead over raw, per call
    mlflow_us: float


def wine_pipeline() -> tuple[Pipeline, pd.DataFrame]:
    data, target = load_wine(return_X_y=True, as_frame=True)
    frame = data[["alcohol", "malic_acid", "ash", "magnesium", "color_intensity"]].copy()
    frame["magnesium"] = frame["magnesium"].astype("int64")
    frame["strength"] = np.where(frame["alcohol"] > 13.0, "strong", "light")
    frame["deep_color"] = frame["color_intensity"] > 5.0
    numeric = ["alcohol", "malic_acid", "ash", "magnesium", "color_intensity"]
    prepare = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["strength", "deep_color"]),
        ]
    )
    pipeline = Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=2000))])
    return pipeline.fit(frame, target), frame


def iris_estimator() -> tuple[LogisticRegression, np.ndarray[Any, Any]]:
    features, target = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(features, target), features


def big_forest(trees: int) -> tuple[RandomForestRegressor, np.ndarray[Any, Any]]:
    features, target = load_diabetes(return_X_y=True)
    forest = RandomForestRegressor(n_estimators=trees, random_state=0, n_jobs=-1)
    return forest.fit(features, target), features


def paired_overhead(
    raw: Predict, wrappers: list[Predict], data: Any, calls: int, rounds: int
) -> list[float]:
    """[raw per-call us, then each wrapper's median per-call overhead over raw in us].

    Each round times every caller once, in an order that rotates from round to round, so a
    caller is not favoured by always running first (warm caches) or last.
    """
    callers = [raw, *wrappers]
    for fn in callers:
        fn(data)  # warm caches (the signature's conversion plan, sklearn's validation)
    per_round: list[list[float]] = []
    for index in range(rounds):
        order = [(index + k) % len(callers) for k in range(len(callers))]
        times = [0.0] * len(callers)
        for k in order:
            times[k] = _per_call(callers[k], data, calls)
        per_round.append(times)
    raw_median = statistics.median(t[0] for t in per_round)
    overheads = [statistics.median(t[k] - t[0] for t in per_round) for k in range(1, len(callers))]
    return [raw_median, *overheads]


def _per_call(fn: Predict, data: Any, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn(data)
    return (time.perf_counter() - start) / calls * 1e6


def measure_predict(name: str, model: Any, folder: Path, data: Any, quick: bool) -> list[Row]:
    ours = shipyard.pyfunc.load_model(folder)
    theirs = mlflow.pyfunc.load_model(str(folder))
    rows = []
    for size in (1, 10_000):
        batch = _batch(data, size)
        calls = (200 if quick else 500) if size == 1 else (3 if quick else 5)
        rounds = 6 if quick else 30
        raw, ship, mlf = paired_overhead(
            model.predict, [ours.predict, theirs.predict], batch, calls, rounds
        )
        np.testing.assert_array_equal(np.asarray(ours.predict(batch)), model.predict(batch))
        rows.append(Row(name, size, raw, ship, mlf))
    return rows


def _batch(data: Any, size: int) -> Any:
    index = np.random.default_rng(0).integers(0, len(data), size)
    if isinstance(data, pd.DataFrame):
        return data.iloc[index].reset_index(drop=True)
    return data[index]


def measure_load(folder: Path, fmt: str, repeats: int) -> tuple[float, float, float]:
    """Median seconds of (the format's own loader, Shipyard's and MLflow's load_model).

    Rounds interleave the three so page-cache and CPU-load effects hit them alike; the first,
    cold round is not counted.
    """
    trusted = fmt == "cloudpickle"  # skops loads through the allowlist, as users would
    raw, ours, theirs = [], [], []
    for index in range(repeats + 1):
        times = [_timed(lambda: _raw_load(folder, fmt))]
        times.append(_timed(lambda: shipyard.pyfunc.load_model(folder, trusted=trusted)))
        times.append(_timed(lambda: mlflow.pyfunc.load_model(str(folder))))
        if index:
            raw.append(times[0])
            ours.append(times[1])
            theirs.append(times[2])
    return statistics.median(raw), statistics.median(ours), statistics.median(theirs)


def _timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    parser.add_argument("--trees", type=int, default=2000, help="trees in the big forest")
    parser.add_argument("--markdown", type=Path, help="append the results section to this file")
    args = parser.parse_args()
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        rows = _predict_rows(root, args.quick)
        loads = _load_rows(root, args.trees, args.quick)
    lines += _report(rows, loads, args)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with args.markdown.open("a") as out:
            out.write("\n" + text)


def _predict_rows(root: Path, quick: bool) -> list[Row]:
    pipeline, frame = wine_pipeline()
    shipyard.sklearn.save_model(pipeline, root / "pipeline", input_example=frame.head(3))
    estimator, features = iris_estimator()
    shipyard.sklearn.save_model(estimator, root / "iris", input_example=features[:3])
    return [
        *measure_predict(
            "wine Pipeline (ColumnTransformer), DataFrame",
            pipeline,
            root / "pipeline",
            frame,
            quick,
        ),
        *measure_predict(
            "iris LogisticRegression, ndarray", estimator, root / "iris", features, quick
        ),
    ]


def _load_rows(root: Path, trees: int, quick: bool) -> list[tuple[str, float, float, float, float]]:
    forest, features = big_forest(trees)
    results = []
    for fmt in ("skops", "cloudpickle"):
        folder = root / f"forest-{fmt}"
        shipyard.sklearn.save_model(
            forest,
            folder,
            input_example=features[:3],
            serialization_format=fmt,  # type: ignore[arg-type]
        )
        raw, ours, theirs = measure_load(folder, fmt, repeats=2 if quick else 3)
        results.append((fmt, _mib(folder), raw, ours, theirs))
    return results


def _raw_load(folder: Path, fmt: str) -> Any:
    """What a skops or cloudpickle user runs by hand: list the file's types, then load."""
    if fmt == "skops":
        path = folder / "model.skops"
        return skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    with (folder / "model.pkl").open("rb") as handle:
        return cloudpickle.load(handle)


def _report(
    rows: list[Row], loads: list[tuple[str, float, float, float, float]], args: argparse.Namespace
) -> list[str]:
    command = "python benchmarks/models_predict.py" + (" --quick" if args.quick else "")
    if args.trees != 2000:
        command += f" --trees {args.trees}"
    out = [
        "## Models: predict() overhead and load_model (benchmarks/models_predict.py)",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python "
        f"{platform.python_version()}, scikit-learn {sklearn.__version__}, shipyard "
        f"{shipyard.__version__}, mlflow-skinny {mlflow.__version__}; `nproc` = {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}. Command: `{command}`",
        "",
        "Per-call overhead over the raw `estimator.predict` (median of paired rounds; "
        "targets: <= 100 us at 1 row, <= 10% at 10,000 rows):",
        "",
        "| model | rows | raw predict | Shipyard overhead | MLflow overhead |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        ours = f"{_us(r.shipyard_us)} ({r.shipyard_us / r.raw_us:+.1%})"
        theirs = f"{_us(r.mlflow_us)} ({r.mlflow_us / r.raw_us:+.1%})"
        out.append(f"| {r.model} | {r.rows:,} | {_us(r.raw_us)} | {ours} | {theirs} |")
    out += [
        "",
        "`load_model` of a big random forest (median seconds of interleaved warm rounds; raw = "
        "`skops.io.load(trusted=get_untrusted_types(...))` or `cloudpickle.load`):",
        "",
        "| format | package size | raw load | Shipyard load_model | MLflow load_model |",
        "|---|---:|---:|---:|---:|",
    ]
    for fmt, size, raw, ours, theirs in loads:
        out.append(f"| {fmt} | {size:.0f} MiB | {raw:.2f} s | {ours:.2f} s | {theirs:.2f} s |")
    return out


def _us(value: float) -> str:
    return f"{value / 1000:.2f} ms" if abs(value) >= 1000 else f"{value:.1f} us"


if __name__ == "__main__":
    main()
