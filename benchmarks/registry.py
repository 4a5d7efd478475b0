#!/usr/bin/env python3
"""Model-registry benchmark (issue 5): Shipyard against `mlflow server` 3.17, 1,000 versions.

    python benchmarks/registry.py [--versions 1000] [--calls 300] [--quick] [--no-install]
        [--servers shipyard,mlflow,mlflow-w1] [--block 50] [--version-tags N] [--out results.json]

All servers run at the same time, each on its own fresh SQLite file and artifact folder on a
free 127.0.0.1 port (started and stopped by `_servers.py`). The servers take turns in blocks of
`--block` calls (50), the first mover rotating, so that load from other jobs on the box hits all
of them alike while each one runs warm: alternating single calls made Shipyard ~3x slower than
alone (measured; likely because it idles through the other servers' calls). The requests are
byte-for-byte the same MLflow REST 2.0 calls, sent with one keep-alive `httpx.Client` per server
(TCP_NODELAY on, as urllib3 does for MLflow's own client).

Workload, per server:

1. one experiment, one run; registered model `bench-model`;
2. a warm-up on a second model (20 versions, aliases, resolves, gets);
3. 1,000 x `POST model-versions/create` (source `runs:/<run_id>/model`, with `run_id`), each timed;
4. with 1,000 versions in place, `--calls` x each of:
   - `POST registered-models/alias` (alias `champion` to a random version, the same sequence
     everywhere),
   - resolving `models:/bench-model@champion` the way a client does: `GET registered-models/alias`
     then `GET model-versions/get-download-uri` (the first call alone, and the pair),
   - `GET registered-models/get`.

`mlflow` is MLflow with its default workers (4); `mlflow-w1` is `mlflow server --workers 1`,
which avoids the 40 ms delayed-ACK stall MLflow's multi-worker socket has on keep-alive
connections (see RESULTS.md, "Quirks"). Ratios are MLflow's latency / Shipyard's (>1x means
Shipyard is faster).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _report import markdown_table
from _servers import (
    REPO_DIR,
    WORK_DIR,
    Backend,
    RunningServer,
    executable,
    run_server,
)
from _workloads import percentile

PREFIX = "/api/2.0/mlflow"
MODEL = "bench-model"
WARMUP_MODEL = "bench-warmup"
ALIAS = "champion"
SEED = 20261126

# name -> (executable, --workers, label)
SERVER_SPECS: dict[str, tuple[str, int | None, str]] = {
    "shipyard": ("shipyard", None, "Shipyard"),
    "mlflow": ("mlflow", None, "MLflow (default workers)"),
    "mlflow-w1": ("mlflow", 1, "MLflow (--workers 1)"),
}
OPS: dict[str, str] = {
    "create": "`POST model-versions/create` (versions 1 to {n})",
    "alias_set": "`POST registered-models/alias` (set alias, {n} versions)",
    "alias_get": "`GET registered-models/alias` (alias to version)",
    "resolve": "resolve `models:/name@alias` (alias get + `get-download-uri`)",
    "download_uri": "`GET model-versions/get-download-uri` alone",
    "model_get": "`GET registered-models/get` ({n} versions)",
}
Json = dict[str, Any]


class BenchError(RuntimeError):
    """A server answered something the benchmark did not expect."""


# --------------------------------------------------------------------------- client


class Rest:
    """One keep-alive connection to one server; raises on any non-200 answer."""

    def __init__(self, port: int) -> None:
        transport = httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}{PREFIX}", transport=transport, timeout=300.0
        )

    def close(self) -> None:
        self.http.close()

    def post(self, endpoint: str, body: Json) -> Json:
        return self._check(self.http.post(endpoint, json=body))

    def get(self, endpoint: str, params: dict[str, str]) -> Json:
        return self._check(self.http.get(endpoint, params=params))

    @staticmethod
    def _check(resp: httpx.Response) -> Json:
        if resp.status_code != 200:
            raise BenchError(
                f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: "
                f"{resp.text[:300]}"
            )
        data: Json = resp.json() if resp.content else {}
        return data


@dataclass
class Target:
    """One server under test and the samples measured on it (seconds)."""

    key: str
    label: str
    rest: Rest
    run_id: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, op: str, seconds: float) -> None:
        self.samples.setdefault(op, []).append(seconds)


def timed(fn: Callable[[], Json]) -> tuple[float, Json]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


# --------------------------------------------------------------------------- workload


def setup(t: Target) -> None:
    exp = t.rest.post("experiments/create", {"name": "registry-bench"})["experiment_id"]
    body = {"experiment_id": str(exp), "run_name": "trainer", "start_time": int(time.time() * 1000)}
    t.run_id = str(t.rest.post("runs/create", body)["run"]["info"]["run_id"])
    for name in (MODEL, WARMUP_MODEL):
        t.rest.post("registered-models/create", {"name": name})


VERSION_TAGS = 0  # set by --version-tags


def version_body(t: Target, name: str) -> Json:
    body: Json = {"name": name, "source": f"runs:/{t.run_id}/model", "run_id": t.run_id}
    if VERSION_TAGS:
        body["tags"] = [{"key": f"tag{k}", "value": f"value-{k}"} for k in range(VERSION_TAGS)]
    return body


def create_version(t: Target, name: str) -> tuple[float, str]:
    took, out = timed(lambda: t.rest.post("model-versions/create", version_body(t, name)))
    return took, str(out["model_version"]["version"])


def set_alias(t: Target, name: str, version: str) -> float:
    body = {"name": name, "alias": ALIAS, "version": version}
    return timed(lambda: t.rest.post("registered-models/alias", body))[0]


def resolve(t: Target, name: str) -> tuple[float, float, str, str]:
    """Time `GET alias` and the pair `GET alias` + `GET get-download-uri`."""
    start = time.perf_counter()
    mv = t.rest.get("registered-models/alias", {"name": name, "alias": ALIAS})["model_version"]
    mid = time.perf_counter()
    version = str(mv["version"])
    uri = t.rest.get("model-versions/get-download-uri", {"name": name, "version": version})
    end = time.perf_counter()
    return mid - start, end - start, version, str(uri["artifact_uri"])


def get_model(t: Target, name: str) -> tuple[float, Json]:
    took, out = timed(lambda: t.rest.get("registered-models/get", {"name": name}))
    return took, out["registered_model"]


def rotated(targets: list[Target], i: int) -> list[Target]:
    k = i % len(targets)
    return targets[k:] + targets[:k]


def warm_up(targets: list[Target], count: int) -> None:
    for i in range(count):
        for t in rotated(targets, i):
            _, version = create_version(t, WARMUP_MODEL)
            set_alias(t, WARMUP_MODEL, version)
            resolve(t, WARMUP_MODEL)
            get_model(t, WARMUP_MODEL)


def blocks(count: int, size: int) -> list[range]:
    return [range(lo, min(lo + size, count)) for lo in range(0, count, size)]


def measure_creates(targets: list[Target], versions: int, block: int) -> None:
    """Creates in blocks of `block` per server, servers taking turns (first mover rotating)."""
    for b, span in enumerate(blocks(versions, block)):
        for t in rotated(targets, b):
            for i in span:
                took, version = create_version(t, MODEL)
                t.add("create", took)
                if version != str(i + 1):
                    t.errors.append(f"create #{i + 1} returned version {version}")
        print(f"    {span.stop:>5} versions", flush=True)


def read_round(t: Target, version: str) -> None:
    t.add("alias_set", set_alias(t, MODEL, version))
    single, pair, got, uri = resolve(t, MODEL)
    t.add("alias_get", single)
    t.add("resolve", pair)
    t.add("download_uri", pair - single)
    if got != version or not uri:
        t.errors.append(f"alias -> {got} (expected {version}), uri {uri!r}")
    took, rm = get_model(t, MODEL)
    t.add("model_get", took)
    aliases = {a["alias"]: str(a["version"]) for a in rm.get("aliases", [])}
    if aliases.get(ALIAS) != version:
        t.errors.append(f"registered-models/get aliases {aliases} (expected {version})")


def measure_reads(targets: list[Target], versions: int, calls: int, block: int) -> None:
    """`calls` rounds (set alias, resolve, get) in blocks per server, like the creates."""
    rng = random.Random(SEED)
    chosen = [str(rng.randint(1, versions)) for _ in range(calls)]
    for b, span in enumerate(blocks(calls, block)):
        for t in rotated(targets, b):
            for i in span:
                read_round(t, chosen[i])


# --------------------------------------------------------------------------- report


def stats(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50) * 1000,
        "p90_ms": percentile(values, 90) * 1000,
        "p99_ms": percentile(values, 99) * 1000,
    }


def fmt_ms(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def summary(targets: list[Target]) -> dict[str, dict[str, dict[str, float]]]:
    return {t.key: {op: stats(v) for op, v in t.samples.items()} for t in targets}


def tables(
    result: dict[str, dict[str, dict[str, float]]], labels: dict[str, str], versions: int
) -> str:
    keys = list(result)
    header = ["operation"] + [f"{labels[k]} p50 (p90), ms" for k in keys]
    refs = [k for k in keys if k != "shipyard"]
    if "shipyard" in result:
        header += [f"{labels[k]} / Shipyard (p50)" for k in refs]
    rows = []
    for op, title in OPS.items():
        row = [title.format(n=f"{versions:,}")]
        for k in keys:
            s = result[k].get(op)
            row.append(f"{fmt_ms(s['p50_ms'])} ({fmt_ms(s['p90_ms'])})" if s else "-")
        if "shipyard" in result:
            mine = result["shipyard"].get(op)
            for k in refs:
                ref = result[k].get(op)
                if mine and ref and mine["p50_ms"] > 0:
                    row.append(f"{ref['p50_ms'] / mine['p50_ms']:.1f}x")
                else:
                    row.append("-")
        rows.append(row)
    return markdown_table(header, rows)


def git_commit() -> str:
    out = subprocess.run(
        ["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "?"


def dirty_src() -> list[str]:
    """Uncommitted changes under src/: the servers run the working tree, not the commit."""
    out = subprocess.run(
        ["git", "-C", str(REPO_DIR), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    )
    return [line[3:] for line in out.stdout.splitlines() if line.strip()]


def version_of(exe: Path) -> str:
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[-1] if lines else "?"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--servers", default="shipyard,mlflow,mlflow-w1", help="comma list")
    p.add_argument("--versions", type=int, default=1000, help="versions per model (1000)")
    p.add_argument("--calls", type=int, default=300, help="timed calls per read/alias op (300)")
    p.add_argument(
        "--block",
        type=int,
        default=50,
        help="calls in a row per server before the next one takes its turn (50)",
    )
    p.add_argument("--warmup", type=int, default=20, help="warm-up rounds on a second model")
    p.add_argument("--version-tags", type=int, default=0, help="tags on every version (0)")
    p.add_argument("--quick", action="store_true", help="100 versions, 50 calls")
    p.add_argument("--no-install", action="store_true", help="don't create MLflow's venv")
    p.add_argument("--out", type=Path, default=None, help="JSON result path")
    p.add_argument("--report", type=Path, default=None, help="only print the table of a JSON")
    args = p.parse_args(argv)
    args.server_list = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.server_list) - set(SERVER_SPECS)
    if unknown:
        p.error(f"unknown servers: {', '.join(sorted(unknown))} (known: {', '.join(SERVER_SPECS)})")
    if args.quick:
        args.versions, args.calls, args.warmup, args.block = 100, 50, 5, 25
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        doc = json.loads(args.report.read_text())
        print(f"[registry] {doc['meta']['command']}  ({doc['meta']['date']})\n")
        print(tables(doc["result"], doc["labels"], doc["meta"]["model_versions"]))
        return 0
    global VERSION_TAGS
    VERSION_TAGS = args.version_tags
    command = "python " + shlex.join(["benchmarks/registry.py", *sys.argv[1:]])
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = WORK_DIR / f"registry-{stamp}"
    exes: dict[str, Path] = {}
    for key in args.server_list:
        exe = executable(SERVER_SPECS[key][0], install=not args.no_install)
        if exe is None:
            raise SystemExit(f"{key}: executable not found (run without --no-install)")
        exes[key] = exe
    labels = {k: SERVER_SPECS[k][2] for k in args.server_list}
    meta: Json = {
        "command": command,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "uncommitted_src": dirty_src(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {k: version_of(e) for k, e in exes.items()},
        "model_versions": args.versions,
        "calls": args.calls,
        "block": args.block,
        "version_tags": args.version_tags,
        "load_start": load(),
    }
    dirty = (
        f", {len(meta['uncommitted_src'])} uncommitted src files" if meta["uncommitted_src"] else ""
    )
    print(f"[registry] {command}  (load {meta['load_start']}, commit {meta['git_commit']}{dirty})")
    targets: list[Target] = []
    with contextlib.ExitStack() as stack:
        servers: dict[str, RunningServer] = {}
        for key in args.server_list:
            workdir = run_dir / key
            backend = Backend(kind="sqlite", sqlite_path=workdir / "registry.db")
            workers = SERVER_SPECS[key][1]
            print(f"  starting {labels[key]} ...", flush=True)
            servers[key] = stack.enter_context(
                run_server(key.split("-")[0], exes[key], backend, workdir, workers)
            )
        time.sleep(3.0)  # let every worker process finish booting
        for key, srv in servers.items():
            rest = Rest(srv.port)
            stack.callback(rest.close)
            targets.append(Target(key=key, label=labels[key], rest=rest))
        for t in targets:
            setup(t)
        print(f"  warm-up ({args.warmup} rounds) ...", flush=True)
        warm_up(targets, args.warmup)
        print(f"  creating {args.versions} versions on each server ...", flush=True)
        start = time.perf_counter()
        measure_creates(targets, args.versions, args.block)
        meta["load_after_creates"] = load()
        print(
            f"  ({time.perf_counter() - start:.0f}s)  {args.calls} x alias/resolve/get ...",
            flush=True,
        )
        measure_reads(targets, args.versions, args.calls, args.block)
    meta["load_end"] = load()
    result = summary(targets)
    for t in targets:
        if t.errors:
            print(f"  {t.label}: {len(t.errors)} unexpected answers, first: {t.errors[0]}")
    print(f"\n[registry] load average at the end: {meta['load_end']}\n")
    print(tables(result, labels, args.versions))
    out = args.out or WORK_DIR / f"registry-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    samples = {
        t.key: {op: [round(s * 1000, 4) for s in v] for op, v in t.samples.items()} for t in targets
    }
    errors = {t.key: t.errors[:20] for t in targets}
    doc = {
        "meta": meta,
        "labels": labels,
        "result": result,
        "errors": errors,
        "samples_ms": samples,
    }
    out.write_text(json.dumps(doc, indent=1))
    print(f"\n[registry] JSON written to {out}")
    return 1 if any(t.errors for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
