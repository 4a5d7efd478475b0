"""Scoring benchmark: ``shipyard models serve|predict`` against ``mlflow models serve|predict``.

The same model package (a HistGradientBoostingClassifier on 20 features, saved by Shipyard in
MLflow's layout, which MLflow 3.17 loads as its own) is served by both, one worker each, and the
same requests are sent over keep-alive connections:

- 1-row ``/invocations`` latency (p50/p90, sequential), against in-process ``predict()``;
- 8 concurrent 1-row clients (requests/s in total);
- 1,000-row requests (rows/s);
- Shipyard only: micro-batching on/off with 64 concurrent 1-row clients, and the inference log
  on/off (p50 latency, and no record lost at a clean shutdown);
- batch: 1,000,000 rows CSV (and Parquet) in, Parquet out: ``shipyard models predict`` against
  ``mlflow models predict`` (CSV in, JSON out: it has no Parquet) and a single in-process
  read-predict-write of the same file.

MLflow runs from ``benchmarks/.venvs/mlflow`` (created on first use, see ``_servers.py``).

    .venv/bin/python benchmarks/serving.py [--quick] [--rows N] [--rounds N] [--batch-only]
        [--serving-only] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import HOST, REPO_DIR, WORK_DIR, free_port, reference_exe, server_env

import shipyard
import shipyard.sklearn
from shipyard.inference_log import read_inference_log
from shipyard.pyfunc import load_model

ROOT = WORK_DIR / "serving"
FEATURES = [f"f{i}" for i in range(20)]
SHIPYARD = REPO_DIR / ".venv" / "bin" / "shipyard"


# --------------------------------------------------------------------------- the model and data
def build_model(folder: Path) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(20_000, 20)), columns=FEATURES)
    y = ((x["f0"] + x["f1"] * x["f2"] - x["f3"]) > 0).astype(int)
    model = HistGradientBoostingClassifier(random_state=0).fit(x, y)
    if not folder.exists():
        shipyard.sklearn.save_model(model, folder, input_example=x.head(3))
    return x


def write_inputs(rows: int) -> tuple[Path, Path]:
    csv, parquet = ROOT / f"in-{rows}.csv", ROOT / f"in-{rows}.parquet"
    if not csv.exists() or not parquet.exists():
        rng = np.random.default_rng(1)
        frame = pd.DataFrame(rng.normal(size=(rows, 20)), columns=FEATURES)
        frame.to_parquet(parquet, row_group_size=100_000)
        frame.to_csv(csv, index=False, float_format="%.6f")
    return csv, parquet


# --------------------------------------------------------------------------- servers
@contextlib.contextmanager
def serving(cmd: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited early; see {log}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    break
            time.sleep(0.25)
        else:
            raise RuntimeError(f"{cmd[0]} did not start; see {log}")
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def shipyard_server(model: Path, port: int, *extra: str) -> contextlib.AbstractContextManager[None]:
    cmd = [str(SHIPYARD), "models", "serve", "-m", str(model), "--host", HOST,
           "--port", str(port), *extra]  # fmt: skip
    return serving(cmd, port, server_env(), ROOT / f"shipyard-{port}.log")


def mlflow_server(
    exe: Path, model: Path, port: int, workers: int = 1
) -> contextlib.AbstractContextManager[None]:
    cmd = [str(exe), "models", "serve", "-m", str(model), "--env-manager", "local",
           "--host", HOST, "--port", str(port), "--workers", str(workers)]  # fmt: skip
    return serving(cmd, port, mlflow_env(exe), ROOT / f"mlflow-{port}.log")


def mlflow_env(exe: Path) -> dict[str, str]:
    env = server_env()
    env["PATH"] = f"{exe.parent}:{env.get('PATH', '')}"  # it runs `uvicorn` from PATH
    env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"  # it refuses skops files otherwise
    return env


# --------------------------------------------------------------------------- load
def body_for(rows: pd.DataFrame) -> bytes:
    split = {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}
    return json.dumps({"dataframe_split": split}).encode()


def post(conn: http.client.HTTPConnection, body: bytes) -> int:
    conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    answer = conn.getresponse()
    answer.read()
    return answer.status


def latencies(port: int, body: bytes, n: int) -> list[float]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    for _ in range(20):
        post(conn, body)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        assert post(conn, body) == 200
        times.append(time.perf_counter() - started)
    conn.close()
    return times


def throughput(port: int, body: bytes, clients: int, seconds: float) -> tuple[float, int]:
    """Requests/s of ``clients`` keep-alive connections posting ``body`` for ``seconds``."""
    done = [0] * clients
    failed = [0] * clients
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        start.wait()
        while not stop.is_set():
            if post(conn, body) == 200:
                done[i] += 1
            else:
                failed[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - began), sum(failed)


def p(times: list[float], q: float) -> float:
    return float(np.quantile(times, q)) * 1000


# --------------------------------------------------------------------------- batch
def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def in_process(model: Path, source: Path, out: Path) -> float:
    code = (
        "import sys, time, pandas as pd; from shipyard.pyfunc import load_model\n"
        "m = load_model(sys.argv[1]); t = time.perf_counter()\n"
        "src = sys.argv[2]\n"
        "x = pd.read_csv(src) if src.endswith('.csv') else pd.read_parquet(src)\n"
        "pd.DataFrame({'prediction': m.predict(x)}).to_parquet(sys.argv[3])\n"
        "print(time.perf_counter() - t)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(model), str(source), str(out)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, 100,000 batch rows")
    parser.add_argument("--rows", type=int, default=None, help="batch rows (default 1,000,000)")
    parser.add_argument("--no-install", action="store_true", help="do not create MLflow's venv")
    parser.add_argument("--markdown", type=Path, help="write the results table here")
    parser.add_argument("--batch-only", action="store_true", help="skip the server measurements")
    parser.add_argument("--serving-only", action="store_true", help="skip batch scoring")
    parser.add_argument("--rounds", type=int, default=3, help="batch rounds (default 3)")
    args = parser.parse_args()
    seconds = 4.0 if args.quick else 10.0
    n = 200 if args.quick else 1000
    batch_rows = args.rows or (100_000 if args.quick else 1_000_000)
    ROOT.mkdir(parents=True, exist_ok=True)
    model = ROOT / "model"
    x = build_model(model)
    one, thousand = body_for(x.iloc[[7]]), body_for(x.iloc[:1000])
    lines: list[str] = []

    def report(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    exe = reference_exe("mlflow", install=not args.no_install)
    if not args.batch_only:
        loaded = load_model(model)
        row = x.iloc[[7]]
        for _ in range(50):
            loaded.predict(row)
        inproc = []
        for _ in range(n):
            started = time.perf_counter()
            loaded.predict(row)
            inproc.append(time.perf_counter() - started)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            single = []
            for _ in range(n):
                started = time.perf_counter()
                loaded.predict(row)
                single.append(time.perf_counter() - started)
        report(f"in-process predict(), 1 row: p50 {p(inproc, 0.5):.2f} ms (default threads), "
               f"{p(single, 0.5):.2f} ms (1 thread)")  # fmt: skip

        results: dict[str, dict[str, float]] = {}
        servers: list[tuple[str, Any]] = [("shipyard", lambda port: shipyard_server(model, port))]
        if exe is not None:
            servers.append(("mlflow", lambda port: mlflow_server(exe, model, port)))
        for name, start in servers:
            port = free_port()
            with start(port):
                lat = latencies(port, one, n)
                rps8, failed8 = throughput(port, one, 8, seconds)
                big = latencies(port, thousand, max(10, n // 20))
            rows_s = 1000 / statistics.median(big)
            results[name] = {"p50": p(lat, 0.5), "p90": p(lat, 0.9), "rps8": rps8,
                             "failed8": failed8, "rows_s": rows_s}  # fmt: skip
            r = results[name]
            report(f"{name}: 1-row p50 {r['p50']:.2f} ms p90 {r['p90']:.2f} ms; 8 clients "
                   f"{r['rps8']:.0f} req/s ({failed8} failed); 1,000-row requests "
                   f"{r['rows_s']:,.0f} rows/s")  # fmt: skip

        # both with one worker per core: 8 concurrent one-row clients, alternating servers
        cores = os.cpu_count() or 1
        multi: dict[str, list[float]] = {}
        multi_servers: list[tuple[str, Any]] = [
            ("shipyard", lambda port: shipyard_server(model, port, "--workers", str(cores)))
        ]
        if exe is not None:
            multi_servers.append(("mlflow", lambda port: mlflow_server(exe, model, port, cores)))
        for _ in range(2):
            for name, start in multi_servers:
                port = free_port()
                with start(port):
                    latencies(port, one, 50)
                    multi.setdefault(name, []).append(throughput(port, one, 8, seconds)[0])
        line = f"8 clients, --workers {cores} each: shipyard " + "/".join(
            f"{r:.0f}" for r in multi["shipyard"]
        )
        if "mlflow" in multi:
            ratio = statistics.median(multi["shipyard"]) / statistics.median(multi["mlflow"])
            line += " req/s, mlflow " + "/".join(f"{r:.0f}" for r in multi["mlflow"])
            line += f" req/s ({ratio:.1f}x by medians)"
        report(line)

        # micro-batching, 64 concurrent one-row clients, off and on alternating
        micro: dict[str, list[float]] = {}
        for _ in range(2):
            for label, extra in (
                ("off", []),
                ("on", ["--micro-batch", "64", "--micro-batch-wait-ms", "2"]),
            ):
                port = free_port()
                with shipyard_server(model, port, *extra):
                    latencies(port, one, 50)
                    rps, failed = throughput(port, one, 64, seconds)
                    if label == "on" and "on8" not in micro:
                        micro["on8"] = [throughput(port, one, 8, seconds)[0]]
                micro.setdefault(label, []).append(rps)
                report(f"shipyard, 64 clients, micro-batching {label}: {rps:.0f} req/s "
                       f"({failed} failed)")  # fmt: skip
        ratio = statistics.median(micro["on"]) / statistics.median(micro["off"])
        report(f"shipyard, 64 clients: micro-batching on/off {ratio:.1f}x by medians; 8 clients "
               f"with it on: {micro['on8'][0]:.0f} req/s")  # fmt: skip

        # the inference log: latency with and without, and nothing lost at a clean shutdown
        log_root = ROOT / "inference-log"
        if log_root.exists():
            import shutil

            shutil.rmtree(log_root)
        port_on, port_off = free_port(), free_port()
        with (
            shipyard_server(model, port_on, "--inference-log", str(log_root)),
            shipyard_server(model, port_off),
        ):
            with_log: list[float] = []
            without: list[float] = []
            for _ in range(10):  # paired rounds: noise that hits a round hits both
                with_log += latencies(port_on, one, n // 10)
                without += latencies(port_off, one, n // 10)
            sent = 10 * (n // 10 + 20)
        logged = len(read_inference_log(log_root))
        report(
            f"shipyard inference log: 1-row p50 {p(with_log, 0.5):.2f} ms on, "
            f"{p(without, 0.5):.2f} ms off; {logged} of {sent} rows logged after SIGTERM"
        )

    if not args.serving_only:
        batch(args, model, x, exe, batch_rows, report)
    meta = (f"{platform.python_version()}, shipyard {shipyard.__version__}, "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    report(meta)
    if args.markdown:
        args.markdown.write_text("\n".join(f"- {line}" for line in lines) + "\n")


def batch(
    args: argparse.Namespace, model: Path, x: pd.DataFrame, exe: Path | None, batch_rows: int,
    report: Any,
) -> None:  # fmt: skip
    """Batch scoring: `--rounds` interleaved runs (the box is shared: medians, and the best
    run, the one least disturbed), and the fixed start-up cost measured on a one-row file."""
    csv, parquet = write_inputs(batch_rows)
    tiny = ROOT / "in-1.csv"
    x.head(1).to_csv(tiny, index=False)
    env = server_env()
    cli = [str(SHIPYARD), "models", "predict", "-m", str(model), "-o", str(ROOT / "out.parquet")]
    single = [*cli, "--workers", "1"]  # one process, reading and writing while predicting
    runs: dict[str, list[float]] = {}

    def run(name: str, seconds: float) -> None:
        runs.setdefault(name, []).append(seconds)

    for _ in range(1 if args.quick else args.rounds):
        run("single_csv", in_process(model, csv, ROOT / "single.parquet"))
        run("single_pq", in_process(model, parquet, ROOT / "single.parquet"))
        run("ship_csv", timed([*cli, "-i", str(csv)], env))
        run("ship_pq", timed([*cli, "-i", str(parquet)], env))
        run("ship_start", timed([*cli, "-i", str(tiny)], env))
        run("ship_csv_single", timed([*single, "-i", str(csv)], env))
        if exe is not None:
            out = ROOT / "mlflow-out.json"
            ml = [str(exe), "models", "predict", "-m", str(model), "-t", "csv", "-o", str(out),
                  "--env-manager", "local"]  # fmt: skip
            run("ml_csv", timed([*ml, "-i", str(csv)], mlflow_env(exe)))
            run("ml_start", timed([*ml, "-i", str(tiny)], mlflow_env(exe)))
    med = {name: statistics.median(times) for name, times in runs.items()}
    best = {name: min(times) for name, times in runs.items()}

    def both(name: str) -> str:
        return f"{med[name]:.2f} s ({best[name]:.2f})"

    report(
        f"batch {batch_rows:,} rows, median (best) of {len(runs['ship_csv'])}: in-process "
        f"read-predict-write {both('single_csv')} (CSV), {both('single_pq')} (Parquet), model "
        f"already loaded; shipyard models predict {both('ship_csv')} (CSV), {both('ship_pq')} "
        f"(Parquet), start-up {both('ship_start')} (a one-row file); with --workers 1 (one "
        f"process) {both('ship_csv_single')} (CSV)"
    )
    if exe is not None:
        report(
            f"batch {batch_rows:,} rows: mlflow models predict {both('ml_csv')} (CSV in, JSON "
            f"out; start-up {both('ml_start')}); shipyard is "
            f"{med['ml_csv'] / med['ship_csv']:.1f}x (CSV), "
            f"{med['ml_csv'] / med['ship_pq']:.1f}x (Parquet in) as fast by medians"
        )


if __name__ == "__main__":
    main()
