#!/usr/bin/env python3
"""Artifact throughput through the mlflow-artifacts proxy: Shipyard against `mlflow server` 3.17.

    python benchmarks/artifacts.py [--servers shipyard,mlflow] [--repeat N] [--quick]

Both servers run side by side, each on a fresh SQLite database and artifact folder, and every
transfer alternates between them (paired rounds; the first mover swaps each repeat), so the
load of a shared machine falls on both alike. Transfers: one large file (1 GiB) PUT and then GET
through `/api/2.0/mlflow-artifacts/artifacts/...`, and 1,000 small files (10 KiB) PUT and then
GET one after another on one keep-alive connection, as MLflow's client does. Every
transfer is timed from the first byte sent to the last byte received; medians of the repeats
are reported in MB/s (10^6 bytes), with the ratio Shipyard / MLflow; dirty pages are flushed
(`sync`, not timed) before each large transfer. While the large file moves,
a sampler polls the RSS of every process in the server's process group (/proc/<pid>/status,
VmRSS, every 20 ms) and keeps the peak of the sum. Stdlib only; servers come from _servers.py.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import http.client
import json
import os
import platform
import re
import shlex
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _servers import HOST, LABELS, WORK_DIR, Backend, RunningServer, executable, run_server

API = "/api/2.0/mlflow-artifacts/artifacts"
MiB = 1024 * 1024
_VMRSS = re.compile(r"VmRSS:\s+(\d+) kB")


@dataclass(frozen=True)
class Sizes:
    big: int
    small_count: int
    small_size: int
    repeat: int


FULL = Sizes(big=1024 * MiB, small_count=1000, small_size=10 * 1024, repeat=3)
QUICK = Sizes(big=64 * MiB, small_count=200, small_size=10 * 1024, repeat=2)
WORKLOADS = ("upload_big", "download_big", "upload_small", "download_small")
BIG = ("upload_big", "download_big")


@dataclass
class ServerResult:
    server: str
    mb_per_s: dict[str, list[float]] = field(default_factory=dict)
    idle_rss_mb: float = 0.0
    processes: int = 0
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def median(self, workload: str) -> float | None:
        samples = self.mb_per_s.get(workload)
        return statistics.median(samples) if samples else None


# --------------------------------------------------------------------------- memory


def group_rss_kb(pgid: int) -> int:
    """Summed VmRSS of every live process in process group ``pgid``."""
    return sum(group_rss(pgid))


def group_rss(pgid: int) -> list[int]:
    """VmRSS (kB) of each live process in process group ``pgid``."""
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[2]) != pgid:  # state ppid pgrp ...
                continue
            match = _VMRSS.search(Path(f"/proc/{entry.name}/status").read_text())
        except (OSError, ValueError, IndexError):
            continue  # the process went away between the two reads
        if match:
            found.append(int(match.group(1)))
    return found


class PeakRss:
    """Polls a process group's RSS in a thread while a ``with`` block runs; ``peak_mb`` after."""

    def __init__(self, pgid: int, interval: float = 0.02) -> None:
        self._pgid, self._interval = pgid, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self.peak_kb = 0

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, group_rss_kb(self._pgid))
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, group_rss_kb(self._pgid))

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


# --------------------------------------------------------------------------- transfers


class Conn:
    """One keep-alive connection that reconnects once when the server closed it under us (as
    `_client.Api` does): a dropped idle connection is not a failed transfer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=900, blocksize=MiB)

    def close(self) -> None:
        self._conn.close()

    def send(self, method: str, path: str, body: bytes | Path | None = None) -> int:
        """Send one request, read the response to the end, return how many body bytes came."""
        for attempt in (1, 2):
            try:
                response = self._request(method, path, body)
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._conn.close()
                self._conn = self._connect()
                if attempt == 2:
                    raise
        if response.status != 200:
            raise RuntimeError(f"{method} {path} -> {response.status}: {response.read()[:200]!r}")
        buffer = memoryview(bytearray(MiB))
        received = 0
        while count := response.readinto(buffer):
            received += count
        return received

    def _request(
        self, method: str, path: str, body: bytes | Path | None
    ) -> http.client.HTTPResponse:
        headers = {"Content-Type": "application/octet-stream"}
        if isinstance(body, Path):
            headers["Content-Length"] = str(body.stat().st_size)
            with body.open("rb") as handle:
                self._conn.request(method, f"{API}/{path}", body=handle, headers=headers)
                return self._conn.getresponse()
        self._conn.request(method, f"{API}/{path}", body=body, headers=headers)
        return self._conn.getresponse()


def connect(port: int) -> Conn:
    return Conn(port)


def put(conn: Conn, path: str, body: bytes | Path) -> None:
    conn.send("PUT", path, body)


def get(conn: Conn, path: str, expected: int) -> None:
    received = conn.send("GET", path)
    if received != expected:
        raise RuntimeError(f"GET {path}: {received} of {expected} bytes")


def timed(action: Callable[[], None], nbytes: int) -> float:
    """MB/s of one call of ``action`` that moves ``nbytes``."""
    start = time.perf_counter()
    action()
    return nbytes / 1e6 / (time.perf_counter() - start)


def big_once(srv: RunningServer, workload: str, source: Path, result: ServerResult) -> None:
    """One large transfer, its throughput and the server's peak RSS meanwhile."""
    size = source.stat().st_size
    conn = connect(srv.port)
    if workload == "upload_big":
        action = functools.partial(put, conn, "bench/big.bin", source)
    else:
        action = functools.partial(get, conn, "bench/big.bin", size)
    os.sync()  # no writeback of an earlier transfer's gigabyte inside this measurement
    with PeakRss(srv.proc.pid) as rss:
        result.mb_per_s.setdefault(workload, []).append(timed(action, size))
    conn.close()
    result.peak_rss_mb[workload] = max(result.peak_rss_mb.get(workload, 0.0), rss.peak_mb)


def small_once(srv: RunningServer, rep: int, sizes: Sizes, result: ServerResult) -> None:
    """The small files up, one after another on one connection, then down again."""
    payload = os.urandom(sizes.small_size)
    names = [f"bench/small-{rep}/f{i:04d}.bin" for i in range(sizes.small_count)]
    total = sizes.small_count * sizes.small_size
    conn = connect(srv.port)

    def upload() -> None:
        for name in names:
            put(conn, name, payload)

    def download() -> None:
        for name in names:
            get(conn, name, len(payload))

    result.mb_per_s.setdefault("upload_small", []).append(timed(upload, total))
    result.mb_per_s.setdefault("download_small", []).append(timed(download, total))
    conn.close()


def start(server: str, run_dir: Path, stack: contextlib.ExitStack) -> RunningServer | None:
    exe = executable(server)
    if exe is None:
        return None
    workdir = run_dir / server
    backend = Backend(kind="sqlite", sqlite_path=workdir / "tracking.db")
    srv: RunningServer = stack.enter_context(run_server(server, exe, backend, workdir))
    warm = connect(srv.port)
    put(warm, "bench/warm.bin", b"warm")
    get(warm, "bench/warm.bin", 4)
    warm.close()
    return srv


def bench(servers: list[str], run_dir: Path, source: Path, sizes: Sizes) -> list[ServerResult]:
    """Paired rounds: every server runs, and each transfer alternates between them (the first
    one swapping each repeat), so the load of a shared machine falls on all of them alike."""
    results = {name: ServerResult(name) for name in servers}
    with contextlib.ExitStack() as stack:
        running = {name: start(name, run_dir, stack) for name in servers}
        time.sleep(2.0)  # let every worker finish booting
        live = {name: srv for name, srv in running.items() if srv is not None}
        for name in set(servers) - set(live):
            results[name].error = "not installed"
        for name, srv in live.items():
            sizes_kb = group_rss(srv.proc.pid)
            results[name].idle_rss_mb = sum(sizes_kb) / 1024
            results[name].processes = len(sizes_kb)
        for rep in range(sizes.repeat):
            order = list(live.items()) if rep % 2 == 0 else list(reversed(live.items()))
            print(f"  round {rep + 1}/{sizes.repeat}: {', '.join(LABELS[n] for n, _ in order)}")
            steps = [functools.partial(big_once, workload=w, source=source) for w in BIG]
            steps.append(functools.partial(small_once, rep=rep, sizes=sizes))
            for step in steps:
                for name, srv in order:
                    _guarded(step, srv, results[name], live)
    return [results[name] for name in servers]


def _guarded(
    step: Callable[..., None],
    srv: RunningServer,
    result: ServerResult,
    live: dict[str, RunningServer],
) -> None:
    """Run one measurement; a server that fails is reported and left out of later rounds."""
    if result.error is not None:
        return
    try:
        step(srv=srv, result=result)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
        print(f"    {LABELS[result.server]} failed: {result.error}", flush=True)
        live.pop(result.server, None)


# --------------------------------------------------------------------------- report


def source_file(size: int) -> Path:
    """A file of ``size`` bytes of random data, made once and reused across runs."""
    path = WORK_DIR / f"artifact-source-{size // MiB}MiB.bin"
    if path.exists() and path.stat().st_size == size:
        return path
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    block = os.urandom(MiB)
    with path.open("wb") as handle:
        for _ in range(size // MiB):
            handle.write(block)
    return path


def rows(results: list[ServerResult], sizes: Sizes) -> Iterator[list[str]]:
    by = {r.server: r for r in results}
    labels = {
        "upload_big": f"upload 1 file of {sizes.big // MiB} MiB",
        "download_big": f"download 1 file of {sizes.big // MiB} MiB",
        "upload_small": f"upload {sizes.small_count:,} files of {sizes.small_size // 1024} KiB",
        "download_small": f"download {sizes.small_count:,} files of {sizes.small_size // 1024} KiB",
    }
    for workload in WORKLOADS:
        ours = by["shipyard"].median(workload) if "shipyard" in by else None
        ref = by["mlflow"].median(workload) if "mlflow" in by else None
        ratio = f"{ours / ref:.2f}x" if ours and ref else "n/a"
        cells = [f"{v:.1f}" if v else "n/a" for v in (ours, ref)]
        yield [labels[workload], *cells, ratio]


def markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def memory_rows(results: list[ServerResult]) -> list[list[str]]:
    out = []
    for r in results:
        up, down = r.peak_rss_mb.get("upload_big", 0.0), r.peak_rss_mb.get("download_big", 0.0)
        name = f"{LABELS[r.server]} ({r.processes} processes)"
        out.append([name, f"{r.idle_rss_mb:.0f}", f"{up:.0f}", f"{down:.0f}"])
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--servers", default="shipyard,mlflow", help="any of shipyard,mlflow")
    p.add_argument("--repeat", type=int, default=None, help="repeats per workload (default 3)")
    p.add_argument("--quick", action="store_true", help="64 MiB and 200 small files")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.repeat:
        sizes = Sizes(sizes.big, sizes.small_count, sizes.small_size, args.repeat)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = WORK_DIR / f"artifacts-{stamp}"
    source = source_file(sizes.big)
    print(f"[artifacts] {sizes}; work in {run_dir}", flush=True)
    results = bench(args.servers.split(","), run_dir, source, sizes)
    header = ["workload (MB/s, median)", "Shipyard", "MLflow 3.17", "Shipyard / MLflow"]
    print("\n" + markdown(header, list(rows(results, sizes))))
    rss_header = ["server", "idle RSS (MB)", "peak RSS, big upload (MB)", "peak RSS, big download"]
    print("\n" + markdown(rss_header, memory_rows(results)))
    out = WORK_DIR / f"artifacts-{stamp}.json"
    meta = {
        "command": " ".join(["python", *map(shlex.quote, sys.argv)]),
        "machine": f"{platform.platform()}, nproc={os.cpu_count()}",
        "sizes": asdict(sizes),
    }
    out.write_text(json.dumps({**meta, "results": [asdict(r) for r in results]}, indent=2))
    print(f"\n[artifacts] samples in {out}")
    return 0 if all(r.error is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
