"""Monitoring benchmark: profiling + drift of 1,000,000 logged rows of 20 features, against
Evidently's data drift preset, and a day's drift from 24 stored hourly profiles.

Data: 20 columns (16 numerical, 4 categorical), the same rows for both tools (saved once as .npy
files), 4 of them shifted in the current data. Each tool runs in its own process (peak RSS is
that process's), timed from data in memory to drift verdicts:

- Shipyard: ``WindowProfile.build`` of the current rows (the sketch a window keeps) and
  ``dataset_drift`` against the reference profile. The reference profile is built once when the
  model is logged; it is timed on its own and also added in a "with reference" total.
- Evidently (0.7, in ``benchmarks/.venvs/evidently``, never a project dependency):
  ``Report([DataDriftPreset()]).run(current, reference)``, which reads both data sets each time.

Targets (issue 8): >= 10x faster than Evidently; a day's drift from 24 hourly profiles < 1 s.

    .venv/bin/python benchmarks/monitoring.py [--rows N] [--repeat N] [--no-install]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _servers import VENVS_DIR, _install_venv  # noqa: E402

EVIDENTLY_PACKAGES = ["evidently==0.7.*", "pandas<3"]
NUMERIC, CATEGORICAL = 16, 4
SHIFTED = ("num_0", "num_5", "num_10", "cat_1")


# --------------------------------------------------------------------------- data


def make_data(rows: int, folder: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for side in ("reference", "current"):
        numbers = np.empty((rows, NUMERIC))
        for j in range(NUMERIC):
            kind = j % 4
            if kind == 0:
                numbers[:, j] = rng.normal(10 * j, 1 + j, rows)
            elif kind == 1:
                numbers[:, j] = rng.exponential(1 + j, rows)
            elif kind == 2:
                numbers[:, j] = rng.integers(0, 50, rows)
            else:
                numbers[:, j] = rng.uniform(-j, j, rows)
        cats = rng.choice(6, size=(rows, CATEGORICAL), p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
        if side == "current":
            for j in (0, 5, 10):
                numbers[:, j] += 0.5 * numbers[:, j].std()
            cats[:, 1] = rng.choice(6, size=rows, p=[0.1, 0.1, 0.2, 0.2, 0.2, 0.2])
        np.save(folder / f"{side}_num.npy", numbers)
        np.save(folder / f"{side}_cat.npy", cats)


def load_frame(folder: Path, side: str) -> Any:
    import pandas as pd

    numbers = np.load(folder / f"{side}_num.npy")
    cats = np.load(folder / f"{side}_cat.npy")
    frame = pd.DataFrame(numbers, columns=[f"num_{j}" for j in range(NUMERIC)])
    for j in range(CATEGORICAL):
        frame[f"cat_{j}"] = np.array(["a", "b", "c", "d", "e", "f"], dtype=object)[cats[:, j]]
    return frame


# --------------------------------------------------------------------------- workers


def shipyard_worker(folder: Path, repeat: int) -> dict[str, Any]:
    import datetime as dt

    from shipyard.models import build_profile
    from shipyard.monitoring import Reference, WindowProfile, dataset_drift, merge_profiles

    reference_frame, current = load_frame(folder, "reference"), load_frame(folder, "current")
    logged = current.add_prefix("in.")
    logged["request_id"] = np.arange(len(logged)).astype(str)
    logged["latency_ms"] = 3.0
    logged["status"] = "ok"
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)

    began = time.perf_counter()
    reference = Reference.from_profile(build_profile(reference_frame))
    reference_s = time.perf_counter() - began
    times, cpu, drift = [], [], None
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        profile = WindowProfile.build(logged, reference, start, end)
        drift = dataset_drift(profile, reference)
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    assert drift is not None

    hour = len(logged) // 24
    stored = [
        json.dumps(
            WindowProfile.build(
                logged.iloc[h * hour : (h + 1) * hour], reference, start, end
            ).to_dict()
        )
        for h in range(24)
    ]
    day_times = []
    for _ in range(max(repeat, 5)):
        began = time.perf_counter()
        day = merge_profiles(WindowProfile.from_dict(json.loads(s), reference) for s in stored)
        dataset_drift(day, reference)
        day_times.append(time.perf_counter() - began)
    return {
        "profile_and_drift_s": statistics.median(times),
        "profile_and_drift_cpu_s": statistics.median(cpu),
        "reference_profile_s": reference_s,
        "day_from_24_hourly_s": statistics.median(day_times),
        "hourly_profile_bytes": statistics.median(len(s) for s in stored),
        "drifted": sorted(drift["drifted_columns"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def evidently_worker(folder: Path, repeat: int) -> dict[str, Any]:
    import warnings

    warnings.filterwarnings("ignore")
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference_frame, current = load_frame(folder, "reference"), load_frame(folder, "current")
    definition = DataDefinition(
        numerical_columns=[f"num_{j}" for j in range(NUMERIC)],
        categorical_columns=[f"cat_{j}" for j in range(CATEGORICAL)],
    )
    times, cpu, result = [], [], None
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        ref = Dataset.from_pandas(reference_frame, data_definition=definition)
        cur = Dataset.from_pandas(current, data_definition=definition)
        result = Report([DataDriftPreset()]).run(cur, ref)
        times.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    assert result is not None
    drifted = []
    for metric in result.dict()["metrics"]:
        config, value = metric.get("config", {}), metric.get("value")
        if not str(config.get("type", "")).endswith("ValueDrift") or value is None:
            continue
        method, threshold = str(config["method"]), float(config["threshold"])
        p_value = any(word in method for word in ("K-S", "chi", "Z-test", "p_value"))
        if (value < threshold) if p_value else (value >= threshold):
            drifted.append(str(config["column"]))
    return {
        "profile_and_drift_s": statistics.median(times),
        "profile_and_drift_cpu_s": statistics.median(cpu),
        "drifted": sorted(drifted),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --------------------------------------------------------------------------- driver


def evidently_python(install: bool) -> Path | None:
    venv = VENVS_DIR / "evidently"
    python = venv / "bin" / "python"
    stamp = venv / "bench-packages.txt"
    current = (
        python.exists() and stamp.exists() and stamp.read_text() == "\n".join(EVIDENTLY_PACKAGES)
    )
    if install and not current:
        _install_venv(venv, EVIDENTLY_PACKAGES)
        stamp.write_text("\n".join(EVIDENTLY_PACKAGES))
    return python if python.exists() else None


def run_worker(python: Path, tool: str, folder: Path, repeat: int) -> dict[str, Any]:
    command = [str(python), __file__, "--worker", tool, "--data", str(folder),
               "--repeat", str(repeat)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} worker failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="Shipyard repeats")
    parser.add_argument("--evidently-repeat", type=int, default=1)
    parser.add_argument("--no-install", action="store_true")
    parser.add_argument("--worker", choices=["shipyard", "evidently"])
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker = shipyard_worker if args.worker == "shipyard" else evidently_worker
        print(json.dumps(worker(args.data, args.repeat)))
        return

    with tempfile.TemporaryDirectory(prefix="shipyard-bench-monitoring-") as tmp:
        folder = Path(tmp)
        make_data(args.rows, folder)
        print(f"{args.rows:,} rows x {NUMERIC + CATEGORICAL} columns per side; shifted: "
              f"{', '.join(SHIFTED)}; {platform.python_version()}", flush=True)  # fmt: skip
        ours = run_worker(Path(sys.executable), "shipyard", folder, args.repeat)
        print(f"Shipyard : {json.dumps(ours)}", flush=True)
        python = evidently_python(not args.no_install)
        theirs = None
        if python is not None:
            theirs = run_worker(python, "evidently", folder, args.evidently_repeat)
            print(f"Evidently: {json.dumps(theirs)}", flush=True)
    print()
    print("| | Shipyard | Evidently | speed-up |")
    print("|---|---:|---:|---:|")
    ev = theirs["profile_and_drift_s"] if theirs else None
    with_ref = ours["profile_and_drift_s"] + ours["reference_profile_s"]
    for label, value in (
        ("profile + drift (current rows)", ours["profile_and_drift_s"]),
        ("the same + building the reference profile", with_ref),
    ):
        ratio = f"{ev / value:.0f}x" if ev else "n/a"
        ev_text = f"{ev:.2f} s" if ev else "n/a"
        print(f"| {label} | {value:.2f} s | {ev_text} | {ratio} |")
    ev_cpu = theirs["profile_and_drift_cpu_s"] if theirs else None
    cpu = ours["profile_and_drift_cpu_s"]
    print(
        f"| CPU seconds, profile + drift | {cpu:.2f} s | "
        + (f"{ev_cpu:.2f} s | {ev_cpu / cpu:.0f}x |" if ev_cpu else "n/a | n/a |")
    )
    rss = f"{theirs['peak_rss_mb']:.0f} MB" if theirs else "n/a"
    print(f"| peak RSS of the process | {ours['peak_rss_mb']:.0f} MB | {rss} | |")
    print(f"| flagged columns | {', '.join(ours['drifted'])} | "
          f"{', '.join(theirs['drifted']) if theirs else 'n/a'} | |")  # fmt: skip
    print(f"| day from 24 stored hourly profiles | {ours['day_from_24_hourly_s'] * 1000:.0f} ms"
          " | | |")  # fmt: skip
    print(f"| one hourly profile (JSON) | {ours['hourly_profile_bytes'] / 1024:.0f} KiB | | |")


if __name__ == "__main__":
    main()
