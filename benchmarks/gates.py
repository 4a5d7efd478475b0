"""Gate benchmark: every check of a policy on a 100,000-row evaluation set (target: < 60 s).

A gradient-boosting classifier (candidate) and a logistic regression (baseline) are trained on
synthetic data with a group column; the policy holds all nine check types, with three metric
checks against the baseline (1,000 paired bootstrap resamples each), stability on all rows, and
a vulnerability database shaped like OSV's PyPI dump (40,000 advisories in one zip, a few of
them about the packages the model pins). The same run times the vectorised paired bootstrap
against calling scikit-learn once per resample (estimated from a few resamples).

    .venv/bin/python benchmarks/gates.py [--rows 100000] [--advisories 40000] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import shipyard.sklearn
from shipyard import gates
from shipyard.gates._bootstrap import bootstrap, weighted_metric
from shipyard.gates._metrics import Outputs, resolve_metric

POLICY = """\
promote_to: production
label: target
bootstrap: {{resamples: 1000}}
checks:
  - {{type: metric, metric: f1, min: 0.5, min_gain: -0.5}}
  - {{type: metric, metric: roc_auc, min: 0.5, min_gain: -0.5}}
  - {{type: metric, metric: log_loss, max: 2.0, min_gain: -1.0}}
  - {{type: fairness, metric: recall, group_column: region, max_gap: 0.5}}
  - {{type: calibration, max_ece: 0.5, max_brier: 0.5}}
  - {{type: stability, max_changed: 0.5, rows: {rows}}}
  - {{type: schema}}
  - {{type: robustness}}
  - {{type: latency, single_p99_ms: 5000, batch_p99_ms: 10000, batch_rows: 1000}}
  - {{type: size, max_bytes: 500MB}}
  - {{type: vulnerabilities, database: {osv}, fail_at: critical}}
"""


def _data(rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    x, y = make_classification(
        n_samples=rows * 2, n_features=20, n_informative=8, flip_y=0.05, random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(20)])
    frame["target"] = y
    frame["region"] = np.random.default_rng(0).choice(["north", "south", "east", "west"], len(y))
    return frame.iloc[:rows], frame.iloc[rows:].reset_index(drop=True)


def _osv_zip(path: Path, count: int) -> None:
    """``count`` advisories about made-up packages, plus three about numpy and scikit-learn."""
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(count):
            name = f"package-{rng.integers(0, 10**9):x}"
            advisory = {
                "id": f"PYSEC-2026-{i}",
                "summary": "A made-up advisory of the same size as a real one. " * 8,
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": name},
                        "ranges": [
                            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.9"}]}
                        ],
                        "versions": [f"1.{k}" for k in range(30)],
                    }
                ],
            }
            archive.writestr(f"PYSEC-2026-{i}.json", json.dumps(advisory))
        for i, name in enumerate(("numpy", "scikit-learn", "numpy")):
            advisory = {
                "id": f"GHSA-bench-{i}",
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": name},
                        "ranges": [
                            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0.1"}]}
                        ],
                    }
                ],
                "database_specific": {"severity": "LOW"},
            }
            archive.writestr(f"GHSA-bench-{i}.json", json.dumps(advisory))


def _bootstrap_speed(evaluation: pd.DataFrame, candidate: Any, baseline: Any) -> dict[str, float]:
    features = evaluation.drop(columns=["target", "region"])
    y = evaluation["target"].to_numpy()
    a, b = candidate.predict(features), baseline.predict(features)
    spec = resolve_metric("f1")
    classes = np.array([0, 1])
    metrics = [weighted_metric(spec, y, Outputs(p), 1, classes) for p in (a, b)]
    start = time.perf_counter()
    bootstrap(metrics, len(y), 1000, 0)
    vectorised = time.perf_counter() - start
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    sample = 10
    for _ in range(sample):
        rows = rng.integers(0, len(y), len(y))
        f1_score(y[rows], a[rows]), f1_score(y[rows], b[rows])
    looped = (time.perf_counter() - start) / sample * 1000
    return {"vectorised_s": vectorised, "loop_estimate_s": looped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--advisories", type=int, default=40_000)
    parser.add_argument("--markdown", type=Path, help="Append the results table to this file.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gates-bench-") as scratch:
        root = Path(scratch)
        train, evaluation = _data(args.rows)
        columns = [f"x{i}" for i in range(20)]
        candidate = HistGradientBoostingClassifier(max_iter=100, random_state=0)
        candidate.fit(train[columns], train["target"])
        baseline = make_pipeline(StandardScaler(), LogisticRegression()).fit(
            train[columns], train["target"]
        )
        shipyard.sklearn.save_model(
            candidate, root / "candidate", input_example=train[columns].head(5)
        )
        shipyard.sklearn.save_model(
            baseline, root / "baseline", input_example=train[columns].head(5)
        )
        _osv_zip(root / "osv.zip", args.advisories)
        (root / "gates.yaml").write_text(POLICY.format(rows=args.rows, osv=root / "osv.zip"))
        evaluation.to_parquet(root / "eval.parquet")
        start = time.perf_counter()
        report = gates.run(
            root / "candidate", root / "gates.yaml", root / "eval.parquet",
            baseline=root / "baseline", output_dir=root / "report",
        )  # fmt: skip
        total = time.perf_counter() - start
        speed = _bootstrap_speed(evaluation, candidate, baseline)
    vectorised, looped = speed["vectorised_s"], speed["loop_estimate_s"]
    lines = [
        f"Gate with every check on {args.rows:,} evaluation rows ({args.advisories:,}-advisory OSV "
        f"zip), {platform.python_version()}, scikit-learn {sklearn.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        "",
        "| check | result | seconds |",
        "|---|---|---:|",
        *(
            f"| {c.name} | {'pass' if c.passed else 'FAIL'} | {c.seconds:.2f} |"
            for c in report.checks
        ),
        f"| **whole gate** (load models and data, all checks, report JSON + HTML with plots) | "
        f"{'pass' if report.passed else 'FAIL'} | **{total:.1f}** |",
        "",
        f"Paired bootstrap of F1, 1,000 resamples of {args.rows:,} rows, two models: vectorised "
        f"{vectorised:.2f} s; scikit-learn once per resample {looped:.0f} s (estimated from 10 "
        f"resamples), {looped / vectorised:.0f}x.",
    ]
    text = "\n".join(lines)
    print(text)
    for check in report.failures:
        print(check.message)
    if args.markdown:
        with args.markdown.open("a") as out:
            out.write("\n" + text + "\n")


if __name__ == "__main__":
    main()
