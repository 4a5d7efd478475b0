"""A/B of two Shipyard source trees over HTTP: the same server command, alternating trees.

Each tree is a ``src`` folder put first on the server's ``PYTHONPATH`` (make one with
``git worktree add /tmp/old <rev>`` and pass ``/tmp/old/src``). Every round starts a fresh
server per tree, on a fresh database (PostgreSQL: a throwaway cluster with ``fsync`` on, as in
``tracking_api.py``), and times the chosen workloads; the medians of each round are printed per
tree, so the spread between rounds shows the box's noise next to any difference.

    .venv/bin/python benchmarks/ab_trees.py --backend postgres --rounds 3 \\
        --workloads log_metric,create_runs,log_batch /tmp/old/src src

``search`` and ``read_all`` seed 5,000 runs once per tree (with that tree's server: the two
may differ in schema) and have that tree's servers read them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from _client import Api, metric, now_ms
from _servers import WORK_DIR, Backend, PgCluster, run_server, shipyard_exe
from _workloads import SEARCH_FILTER, SEARCH_ORDER, create_full_run, seed_runs

WORKLOADS = ("log_metric", "create_runs", "log_batch", "search", "read_all")
SEEDED = ("search", "read_all")  # read the 5,000 runs seeded once (``_seed``)


def _median_ms(call: Callable[[int], object], count: int) -> float:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def log_metric(api: Api, exp: str) -> str:
    run_id = api.create_run(exp, "lm")
    for i in range(200):
        api.log_metric(run_id, "m", 0.5, i)
    return f"{_median_ms(lambda i: api.log_metric(run_id, 'm', 0.5, 1000 + i), 2000):.3f} ms"


def create_runs(api: Api, exp: str) -> str:
    rng = random.Random(1)
    for i in range(50):
        create_full_run(api, exp, i, rng, True)
    rates = []
    for k in range(4):
        start = time.perf_counter()
        for i in range(150):
            create_full_run(api, exp, 1000 * (k + 1) + i, rng, True)
        rates.append(150 / (time.perf_counter() - start))
    return f"{statistics.median(rates):.0f} runs/s"


def log_batch(api: Api, exp: str) -> str:
    run_id = api.create_run(exp, "lb")
    first = [0]

    def batch() -> None:
        ts = now_ms()
        points = [metric(f"m{j % 10}", 0.5, first[0] + j, ts) for j in range(1000)]
        first[0] += 1000
        api.log_batch(run_id, metrics=points)

    for _ in range(5):
        batch()
    rates = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(20):
            batch()
        rates.append(20_000 / (time.perf_counter() - start))
    return f"{statistics.median(rates):,.0f} points/s"


def search(api: Api, exp: str) -> str:
    body = {
        "experiment_ids": [exp],
        "filter": SEARCH_FILTER,
        "order_by": SEARCH_ORDER,
        "max_results": 100,
        "run_view_type": "ACTIVE_ONLY",
    }
    for _ in range(30):
        api.post("runs/search", body)
    return f"{_median_ms(lambda i: api.post('runs/search', body), 300):.3f} ms"


def read_all(api: Api, exp: str) -> str:
    """All 5,000 runs, 1,000 a page (the `read_all` workload of ``tracking_api.py``)."""

    def everything() -> None:
        token = None
        while True:
            body: dict[str, object] = {"experiment_ids": [exp], "max_results": 1000}
            if token:
                body["page_token"] = token
            if not (token := api.post("runs/search", body).get("next_page_token")):
                return

    everything()  # keeps every run's body (the first read)
    times = []
    for _ in range(15):
        start = time.perf_counter()
        everything()
        times.append(time.perf_counter() - start)
    return f"{statistics.median(times) * 1000:.1f} ms"


@contextlib.contextmanager
def backends(kind: str) -> Iterator[Callable[[str], Backend]]:
    if kind == "sqlite":
        folder = WORK_DIR / "ab"
        folder.mkdir(parents=True, exist_ok=True)

        def lite(name: str) -> Backend:
            path = folder / f"{name}.db"
            path.unlink(missing_ok=True)
            return Backend(kind="sqlite", sqlite_path=path)

        yield lite
        return
    cluster = PgCluster(root=WORK_DIR / "ab-pg")
    cluster.start()
    try:
        yield cluster.create_db
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs=2, help="two src folders: A (before) and B (after)")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="log_metric,create_runs")
    args = parser.parse_args(argv)
    chosen = args.workloads.split(",")
    unknown = set(chosen) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose from {', '.join(WORKLOADS)}")
    exe = shipyard_exe()
    if exe is None:
        sys.exit("no shipyard executable: run `python3 dev.py test` first")
    table = {name: globals()[name] for name in chosen}
    results: dict[tuple[str, str], list[str]] = {}
    with backends(args.backend) as new_backend:
        seeded: dict[str, tuple[Backend, str]] = {}
        number = 0
        for _ in range(args.rounds):
            for tree in args.trees:
                number += 1
                os.environ["PYTHONPATH"] = str(Path(tree).resolve())
                backend = new_backend(f"ab{number}")
                work = WORK_DIR / f"ab-server-{number}"
                with run_server("shipyard", exe, backend, work) as server:
                    api = Api(server.port)
                    exp = str(api.post("experiments/create", {"name": "ab"})["experiment_id"])
                    for name, workload in table.items():
                        if name not in SEEDED:
                            results.setdefault((tree, name), []).append(workload(api, exp))
                    api.close()
                if reads := [name for name in table if name in SEEDED]:
                    if tree not in seeded:
                        seeded[tree] = _seed(new_backend, exe, f"ab-search-{len(seeded)}")
                    db, exp = seeded[tree]
                    with run_server("shipyard", exe, db, work / "search") as server:
                        api = Api(server.port)
                        for name in reads:
                            results.setdefault((tree, name), []).append(table[name](api, exp))
                        api.close()
                print(f"[ab] round done: {tree}", flush=True)
    for (tree, name), values in results.items():
        print(f"{name:12} {tree}: {', '.join(values)}")


def _seed(new_backend: Callable[[str], Backend], exe: Path, name: str) -> tuple[Backend, str]:
    """5,000 finished runs with data, by the current tree's server (its own database: the
    two trees' schemas may differ), then analysed."""
    backend = new_backend(name)
    with run_server("shipyard", exe, backend, WORK_DIR / "ab-seed") as server:
        api = Api(server.port)
        exp = str(api.post("experiments/create", {"name": "search"})["experiment_id"])
        api.close()
        seed_runs(server.port, exp, 5000, 4)
    backend.analyze()
    return backend, exp


if __name__ == "__main__":
    main()
