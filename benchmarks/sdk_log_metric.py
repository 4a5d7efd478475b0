"""SDK benchmark: the cost of ``log_metric`` in a training loop, and that every point lands.

Same server (Shipyard on SQLite), same run of this script, three clients:

- Shipyard's ``shipyard.log_metric`` (queued, sent in background batches);
- MLflow's client ``mlflow.log_metric(..., synchronous=False)`` (its async logging);
- MLflow's default ``mlflow.log_metric`` (one HTTP request per call; fewer calls: it is slow).

Reports microseconds per call (median of repeats), the time ``end_run`` takes to flush, and checks
that the server holds every point afterwards.

    .venv/bin/python benchmarks/sdk_log_metric.py [--calls 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _servers import Backend, executable, run_server  # noqa: E402

_SHIPYARD = """
import sys, time, shipyard
shipyard.set_tracking_uri(sys.argv[1]); n = int(sys.argv[2])
shipyard.set_experiment("sdk-bench")
run = shipyard.start_run()
t0 = time.perf_counter()
for i in range(n):
    shipyard.log_metric("loss", 1.0 / (i + 1), step=i)
t1 = time.perf_counter()
shipyard.end_run()
t2 = time.perf_counter()
stored = len(shipyard.Client(sys.argv[1]).get_metric_history(run.run_id, "loss"))
print((t1 - t0) / n * 1e6, t2 - t1, stored)
"""

_MLFLOW = """
import sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1]); n = int(sys.argv[2]); sync = sys.argv[3] == "sync"
mlflow.set_experiment("sdk-bench-mlflow")
run = mlflow.start_run()
t0 = time.perf_counter()
for i in range(n):
    mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=sync)
t1 = time.perf_counter()
mlflow.end_run()
t2 = time.perf_counter()
stored = len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "loss"))
print((t1 - t0) / n * 1e6, t2 - t1, stored, flush=True)
"""


def _measure(code: str, args: list[str]) -> tuple[float, float, int]:
    out = (
        subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
        .split()
    )  # the last line: MLflow prints its own too
    return float(out[0]), float(out[1]), int(out[2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--sync-calls", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    exe = executable("shipyard", install=False)
    if exe is None:
        print("shipyard is not installed in .venv")
        return 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        backend = Backend("sqlite", sqlite_path=Path(tmp) / "bench.db")
        with run_server("shipyard", exe, backend, Path(tmp) / "work") as server:
            url = f"http://127.0.0.1:{server.port}"
            cases = (
                ("shipyard.log_metric", _SHIPYARD, [url, str(args.calls)], args.calls),
                ("mlflow.log_metric(synchronous=False)", _MLFLOW,
                 [url, str(args.calls), "async"], args.calls),
                ("mlflow.log_metric (default, synchronous)", _MLFLOW,
                 [url, str(args.sync_calls), "sync"], args.sync_calls),
            )  # fmt: skip
            for label, code, cargs, n in cases:
                results = [_measure(code, cargs) for _ in range(args.repeat)]
                per_call = statistics.median(r[0] for r in results)
                flush = statistics.median(r[1] for r in results)
                complete = all(r[2] == n for r in results)
                rows.append((label, n, per_call, flush, complete))
    base = rows[0][2]
    print("| client | calls | us per call (median) | end_run flush s | all stored | vs Shipyard |")
    print("|---|---|---|---|---|---|")
    for label, n, per_call, flush, complete in rows:
        ratio = f"{per_call / base:.0f}x slower" if per_call > base else "-"
        print(f"| {label} | {n} | {per_call:.2f} | {flush:.2f} | {complete} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
