#!/usr/bin/env python3
"""Tracking-API benchmark: the same workload against Shipyard, MLflow and FastTrackML.

    python benchmarks/tracking_api.py [--servers shipyard,mlflow,fasttrackml]
        [--backend sqlite|postgres|both] [--repeat N] [--quick] [--big]

Servers run one at a time on free 127.0.0.1 ports, each on a fresh empty database, and are
always stopped at the end. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from _client import Api
from _floor import FloorTarget
from _limits import measure as measure_limits
from _limits import pg_limits
from _report import (
    SUMMARY_HEADER,
    Result,
    markdown_table,
    summary_rows,
    text_table,
    workload_header,
    workload_rows,
    write_json,
)
from _servers import (
    LABELS,
    REPO_DIR,
    SERVERS,
    WORK_DIR,
    Backend,
    PgCluster,
    executable,
    pg_cluster,
    run_server,
)
from _workloads import FULL, QUICK, SearchFixture, Sizes, Workload, make_workloads, median

ONE_WORKER = "1 worker"
ONE_WORKER_WORKLOADS = ("log_metric", "log_metric_fresh", "log_metric_wire")
MULTI_WORKER_SERVERS = ("shipyard", "mlflow")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--servers", default=",".join(SERVERS), help="comma list (default: all)")
    p.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    p.add_argument("--repeat", type=int, default=None, help="repeats (default 5, --quick 2)")
    p.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    p.add_argument("--big", action="store_true", help="also search 100,000 runs (Shipyard)")
    p.add_argument("--workloads", default="", help="comma list of workload keys (default all)")
    p.add_argument("--workers", type=int, default=None, help="--workers for Shipyard/MLflow")
    p.add_argument(
        "--connection",
        choices=("keepalive", "fresh"),
        default="keepalive",
        help="one keep-alive connection (default) or a new TCP connection per request",
    )
    p.add_argument("--no-install", action="store_true", help="don't create reference venvs")
    p.add_argument("--out", type=Path, default=None, help="JSON result path")
    p.add_argument("--report", type=Path, default=None, help="only print the tables of a JSON")
    args = p.parse_args(argv)
    args.server_list = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.server_list) - set(SERVERS)
    if unknown:
        p.error(f"unknown servers: {', '.join(sorted(unknown))}")
    args.repeat = args.repeat or (2 if args.quick else 5)
    return args


def selected_workloads(args: argparse.Namespace, sizes: Sizes) -> list[Workload]:
    wanted = {w.strip() for w in args.workloads.split(",") if w.strip()}
    chosen = []
    for wl in make_workloads(sizes):
        if wanted and wl.key not in wanted:
            continue
        if wl.key == "search_big" and not args.big:
            continue
        chosen.append(wl)
    return chosen


SHIPYARD_ONLY = ("search_big", "search_db", "read_all_db")


def runs_on(wl: Workload, server: str, variant: str) -> bool:
    if wl.key in SHIPYARD_ONLY and server != "shipyard":
        return False
    return not variant or wl.key in ONE_WORKER_WORKLOADS


# --------------------------------------------------------------------------- running


def run_workload(wl: Workload, port: int, sizes: Sizes, repeat: int, base: Result) -> Result:
    print(f"    {wl.key:<12} ...", end=" ", flush=True)
    start = time.perf_counter()
    try:
        measured = wl.run(port, sizes, repeat)
    except Exception as exc:  # one failing workload must not stop the others
        base.missing = f"{type(exc).__name__}: {exc}"[:500]
        print(f"ERROR {base.missing}", flush=True)
        return base
    base.samples, base.p99, base.notes = measured.samples, measured.p99, measured.notes
    base.median = median(measured.samples)
    extra = f" p99 {base.p99:.4g}" if base.p99 is not None else ""
    took = time.perf_counter() - start
    print(f"median {base.median:.4g} {wl.unit}{extra}  ({took:.0f}s) {'; '.join(base.notes)}")
    return base


def run_instance(
    ctx: RunContext, server: str, backend: Backend, variant: str, workloads: list[Workload]
) -> list[Result]:
    """Start one server on a fresh database, run `workloads`, stop it."""

    def new(key: str, missing: str | None = None) -> Result:
        return Result(key, server, backend.kind, variant, missing=missing)

    exe = executable(server, install=not ctx.args.no_install)
    if exe is None or not runnable(server, exe):
        print(f"  {LABELS[server]}: not installed or not runnable -> n/a", flush=True)
        return [new(w.key, "n/a") for w in workloads]
    workers = 1 if variant == ONE_WORKER else ctx.args.workers
    tag = f"{server}{'-w1' if variant else ''}"
    workdir = ctx.run_dir / backend.kind / tag
    print(f"  {LABELS[server]}{f' ({variant})' if variant else ''} [{backend.kind}]", flush=True)
    results: list[Result] = []
    SearchFixture.after_seed = backend.analyze
    FloorTarget.uri = backend.uri_for(server) if server == "shipyard" else None
    try:
        with run_server(server, exe, backend, workdir, workers) as srv:
            time.sleep(2.0)  # let every worker process finish booting
            for wl in workloads:
                results.append(run_workload(wl, srv.port, ctx.sizes, ctx.args.repeat, new(wl.key)))
    except Exception as exc:
        print(f"    server failed: {exc}", flush=True)
        done = {r.workload for r in results}
        msg = f"{type(exc).__name__}: {exc}"[:500]
        results += [new(w.key, msg) for w in workloads if w.key not in done]
    return results


def runnable(server: str, exe: Path) -> bool:
    """Shipyard is under construction: treat a CLI without a working `server` as missing."""
    if server != "shipyard":
        return True
    try:
        done = subprocess.run([str(exe), "server", "--help"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class RunContext:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = QUICK if args.quick else FULL
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.stamp = stamp
        self.run_dir = WORK_DIR / f"run-{stamp}"
        self.pg: PgCluster | None = None

    def backend_for(self, kind: str, server: str, variant: str) -> Backend:
        name = f"{server}{'_w1' if variant else ''}"
        if kind == "postgres":
            assert self.pg is not None
            return self.pg.create_db(f"bench_{name}")
        path = self.run_dir / kind / name.replace("_", "-") / "tracking.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return Backend(kind="sqlite", sqlite_path=path)


def run_backend(ctx: RunContext, kind: str, workloads: list[Workload]) -> list[Result]:
    results: list[Result] = []
    for server in ctx.args.server_list:
        variants = [""]
        if server in MULTI_WORKER_SERVERS and ctx.args.workers != 1:
            variants.append(ONE_WORKER)
        for variant in variants:
            chosen = [w for w in workloads if runs_on(w, server, variant)]
            if chosen:
                backend = ctx.backend_for(kind, server, variant)
                results += run_instance(ctx, server, backend, variant, chosen)
    return results


# --------------------------------------------------------------------------- reporting


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return "n/a"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[-1] if lines else "?"


def machine_meta(args: argparse.Namespace, sizes: Sizes) -> dict[str, Any]:
    versions = {}
    for server in args.server_list:
        exe = executable(server, install=False)
        versions[server] = _version([str(exe), "--version"]) if exe else "not installed"
    commit = _version(["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"])
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "command": "python " + shlex.join(["benchmarks/tracking_api.py", *sys.argv[1:]]),
        "git_commit": commit,
        "versions": versions,
        "repeat": args.repeat,
        "connection": args.connection,
        "sizes": asdict(sizes),
    }


def print_limits(limits: dict[str, float]) -> None:
    print("\n== the limits (no server) ==")
    for key, value in limits.items():
        shown = f"{value:,.1f}" if value >= 100 else f"{value:.3g}"
        print(f"  {key:<40} {shown}")


def print_report(results: list[Result], workloads: list[Workload], backends: list[str]) -> None:
    for kind in backends:
        for wl in workloads:
            rows = workload_rows(results, wl, kind)
            if rows:
                print(f"\n== {wl.title} [{kind}] ==")
                print(text_table(workload_header(wl), rows))
    print("\nSpeed-ups: >1x means the row's server is faster than the reference.")
    for kind in backends:
        print(f"\n### Medians, {kind} backend (Markdown)\n")
        print(markdown_table(SUMMARY_HEADER, summary_rows(results, workloads, kind, "n/a")))


def report_only(path: Path) -> int:
    doc = json.loads(path.read_text())
    results = [Result(**r) for r in doc["results"]]
    sizes = Sizes(**doc["meta"]["sizes"])
    keys = {r.workload for r in results}
    workloads = [w for w in make_workloads(sizes) if w.key in keys]
    backends = list(dict.fromkeys(r.backend for r in results))
    print(f"[bench] {doc['meta']['command']}  ({doc['meta']['date']})")
    print_limits(doc["limits"])
    print_report(results, workloads, backends)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        return report_only(args.report)
    Api.fresh_default = args.connection == "fresh"
    ctx = RunContext(args)
    workloads = selected_workloads(args, ctx.sizes)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for server in args.server_list:  # install references up front, not inside a timing
        executable(server, install=not args.no_install)
    meta = machine_meta(args, ctx.sizes)
    print(f"[bench] {meta['command']}  (nproc={meta['nproc']}, python {meta['python']})")
    limits = measure_limits(args.quick)
    print_limits(limits)
    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        for kind in backends:
            print(f"\n== backend: {kind} ==", flush=True)
            if kind == "postgres":
                ctx.pg = stack.enter_context(pg_cluster())
                scratch = ctx.pg.create_db("limits")
                pg = pg_limits(scratch.uri_for("mlflow"))  # the plain libpq form
                print_limits(pg)
                limits.update(pg)
            results += run_backend(ctx, kind, workloads)
    print_report(results, workloads, backends)
    out = args.out or WORK_DIR / f"results-{ctx.stamp}.json"
    write_json(out, meta, limits, results)
    print(f"\n[bench] JSON written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
