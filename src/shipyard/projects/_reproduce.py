"""``shipyard reproduce``: run a recorded project run again from scratch and compare.

The recorded commit (and patch) is checked out into a clean folder, the environment is rebuilt
from the recorded lock, the data digests are checked, the entry point runs with the recorded
parameters, and then the new metrics are compared with the old (within a tolerance) and the model
packages by content digest. A reproduction refused before running (data or dependencies changed)
or failed after it is recorded on both runs, with the cause.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from shipyard.client import Client
from shipyard.client._artifacts import download_run_artifacts, list_run_artifacts, log_run_text
from shipyard.entities import RunStatus, Tag
from shipyard.errors import InvalidParameter, NotFound
from shipyard.projects import _git
from shipyard.projects._conda import build_conda_env
from shipyard.projects._digests import data_digest, model_digest
from shipyard.projects._env import BuiltEnv, EnvBuildFailed, build_virtualenv, diff_locks, local_env
from shipyard.projects._process import Output
from shipyard.projects._runner import FORMAT_VERSION, PreparedRun, RunOutcome, execute
from shipyard.projects._spec import CondaEnv, load_project

__all__ = ["Comparison", "ReproduceReport", "reproduce"]

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Comparison:
    kind: str  # "metric" | "model" | "data" | "dependency" | "run"
    name: str
    original: str
    reproduced: str
    ok: bool


@dataclass
class ReproduceReport:
    original_run_id: str
    run_id: str
    rows: list[Comparison] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)
    outcome: RunOutcome | None = None

    @property
    def passed(self) -> bool:
        return not self.causes

    def fail(self, row: Comparison, cause: str) -> None:
        self.rows.append(row)
        self.causes.append(cause)


def _load_record(client: Client, run_id: str, into: Path) -> tuple[dict[str, Any], Path]:
    names = {f.path for f in list_run_artifacts(client, run_id, "shipyard")}
    if "shipyard/project.json" not in names:
        raise InvalidParameter(
            f"Run {run_id} was not started by `shipyard run` (it has no shipyard/project.json)."
        )
    folder = download_run_artifacts(client, run_id, "shipyard", into)
    recorded = json.loads((folder / "project.json").read_text())
    if recorded.get("format", 0) > FORMAT_VERSION:
        raise InvalidParameter(
            f"Run {run_id} was recorded by a newer Shipyard (project format {recorded['format']}); "
            "upgrade Shipyard to reproduce it."
        )
    return recorded, folder


def _checkout(recorded: dict[str, Any], saved: Path, dest: Path, source: str | None) -> Path:
    src = recorded["source"]
    if src.get("kind") != "git":
        raise InvalidParameter(
            "This run's project was not in a git repository, so there is no commit to check out."
        )
    repo = source or src["repo"]
    if not _git.is_git_url(repo) and not Path(repo).exists():
        repo = src.get("remote") or repo
    patch = saved / "git.patch"
    _git.checkout(repo, src["commit"], dest, patch if patch.exists() else None)
    return dest / src["subdir"] if src["subdir"] else dest


def _check_data(recorded: dict[str, Any], folder: Path, report: ReproduceReport) -> None:
    """Tracked data comes with the commit; other data must still be where it was read from
    (it is then linked into the clean folder) with the same digest."""
    for item in recorded["data"]:
        location = folder / item["path"] if item["tracked"] else Path(item["location"])
        old = item["sha256"][:12]
        if not location.exists():
            row = Comparison("data", item["path"], old, "missing", False)
            report.fail(row, f"data file {item['path']} is missing (was {location})")
            continue
        sha, _ = data_digest(location)
        if sha != item["sha256"]:
            row = Comparison("data", item["path"], old, sha[:12], False)
            cause = f"data file {item['path']} changed (sha256 {old}… is now {sha[:12]}…)"
            report.fail(row, cause)
            continue
        report.rows.append(Comparison("data", item["path"], old, sha[:12], True))
        target = folder / item["path"]
        if not item["tracked"] and not target.exists() and not Path(item["path"]).is_absolute():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(location)


def _rebuild(
    recorded: dict[str, Any],
    saved: Path,
    cache_dir: Path,
    log: Log,
    report: ReproduceReport,
    checkout: Path,
) -> BuiltEnv | None:
    """The environment again, from the recorded lock; every version that differs is a cause."""
    env = recorded["environment"]
    manager = env["manager"]
    if manager == "docker":
        return None
    lock_file = saved / "environment" / "lock.txt"
    old_lock = lock_file.read_text() if lock_file.exists() else ""
    try:
        if manager == "local":
            built = local_env()
        elif manager == "conda":  # the same conda.yaml rebuilds the same environment
            conda = CondaEnv(file=env["spec"]["file"])
            built = build_conda_env(conda, checkout, cache_dir, log)
        else:
            spec = env["spec"]
            inherits = spec["system_site_packages"]
            # With inherited packages, what was installed into the virtualenv is what to rebuild;
            # the inherited ones are compared below like everything else.
            lines = env["installed"] if inherits else _lock_lines(old_lock)
            built = build_virtualenv(lines, cache_dir, spec["python"], inherits, log)
    except EnvBuildFailed as exc:
        report.fail(
            Comparison("dependency", "environment", "recorded lock", "rebuild failed", False),
            f"the recorded environment could not be rebuilt: {exc.message}",
        )
        return None
    changes = diff_locks(old_lock, built.lock)
    for change in changes:
        row = Comparison(
            "dependency", change.name, change.recorded or "-", change.now or "-", False
        )
        report.fail(row, f"dependency version differs: {change}")
    if not changes:
        count = sum(1 for ln in old_lock.splitlines() if ln.strip() and not ln.startswith("#"))
        report.rows.append(Comparison("dependency", f"{count} locked", "lock.txt", "same", True))
    return built


def _lock_lines(lock: str) -> list[str]:
    return [ln.strip() for ln in lock.splitlines() if ln.strip() and not ln.startswith("#")]


def _latest_metrics(client: Client, run_id: str) -> dict[str, float]:
    return {m.key: m.value for m in client.get_run(run_id).data.metrics}


def _close(a: float, b: float, tolerance: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tolerance


def _compare_metrics(client: Client, report: ReproduceReport, tolerance: float) -> None:
    old = _latest_metrics(client, report.original_run_id)
    new = _latest_metrics(client, report.run_id)
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        shown = (f"{a:.6g}" if a is not None else "-", f"{b:.6g}" if b is not None else "-")
        if a is not None and b is not None and _close(a, b, tolerance):
            report.rows.append(Comparison("metric", key, *shown, True))
        else:
            diff = (
                f" (difference {abs(a - b):.3g} > tolerance {tolerance:g})"
                if a is not None and b is not None
                else ""
            )
            report.fail(
                Comparison("metric", key, *shown, False),
                f"metric {key} differs: {shown[0]} vs {shown[1]}{diff}",
            )


def _model_folders(client: Client, run_id: str, path: str = "") -> list[str]:
    found = []
    for item in list_run_artifacts(client, run_id, path):
        if item.is_dir and item.path != "shipyard":
            found += _model_folders(client, run_id, item.path)
        elif PurePosixPath(item.path).name == "MLmodel":
            found.append(str(PurePosixPath(item.path).parent))
    return found


def _model_digests(client: Client, run_id: str, scratch: Path) -> dict[str, str]:
    out = {}
    for folder in _model_folders(client, run_id):
        local = download_run_artifacts(client, run_id, folder, scratch / run_id)
        out[folder] = model_digest(local)
    return out


def _compare_models(client: Client, report: ReproduceReport, scratch: Path) -> None:
    old = _model_digests(client, report.original_run_id, scratch)
    new = _model_digests(client, report.run_id, scratch)
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name, "-"), new.get(name, "-")
        row = Comparison("model", name, a[:12], b[:12], a == b)
        if a == b:
            report.rows.append(row)
        else:
            report.fail(row, f"model {name} differs (content digest {a[:12]} vs {b[:12]})")


def _record_result(client: Client, report: ReproduceReport) -> None:
    result = "passed" if report.passed else "failed"
    reason = "; ".join(report.causes)[:4000]
    client.log_batch(report.original_run_id, tags=[
        Tag("shipyard.reproduce.last_run_id", report.run_id),
        Tag("shipyard.reproduce.last_result", result),
        Tag("shipyard.reproduce.last_reason", reason or "-"),
    ])  # fmt: skip
    client.log_batch(report.run_id, tags=[
        Tag("shipyard.reproduce.of", report.original_run_id),
        Tag("shipyard.reproduce.result", result),
        Tag("shipyard.reproduce.reason", reason or "-"),
    ])  # fmt: skip
    rows = [
        {
            "kind": r.kind,
            "name": r.name,
            "original": r.original,
            "reproduced": r.reproduced,
            "ok": r.ok,
        }
        for r in report.rows
    ]
    body = {
        "original_run_id": report.original_run_id,
        "result": result,
        "causes": report.causes,
        "rows": rows,
    }
    log_run_text(client, report.run_id, json.dumps(body, indent=2), "shipyard/reproduce.json")


def reproduce(
    client: Client,
    run_id: str,
    tolerance: float = 1e-9,
    cache_dir: Path | None = None,
    source: str | None = None,
    out: Output | None = None,
    log: Log = print,
) -> ReproduceReport:
    """Reproduce ``run_id``; the report says what matched and, if anything did not, why."""
    import sys

    original = client.get_run(run_id)
    cache_dir = cache_dir or Path(client.settings.env_cache_dir)
    with tempfile.TemporaryDirectory(prefix="shipyard-reproduce-") as scratch_dir:
        scratch = Path(scratch_dir)
        recorded, saved = _load_record(client, run_id, scratch / "recorded")
        folder = _checkout(recorded, saved, scratch / "checkout", source)
        name = f"reproduce-{original.info.run_name or run_id[:8]}"
        tags = {"mlflow.user": client.settings.user, "shipyard.reproduce.of": run_id}
        new_id = client.create_run(original.info.experiment_id, name, tags).info.run_id
        report = ReproduceReport(run_id, new_id)
        try:
            _check_data(recorded, folder, report)
            env = (
                _rebuild(recorded, saved, cache_dir, log, report, folder) if report.passed else None
            )
            if report.passed:
                prepared = _prepared(recorded, folder)
                report.outcome = execute(client, prepared, env, new_id, out or sys.stdout, log)
                _compare_run(client, report, tolerance, scratch)
            else:
                client.set_terminated(new_id, RunStatus.FAILED.value)
        except BaseException:
            if client.get_run(new_id).info.status == RunStatus.RUNNING.value:
                client.set_terminated(new_id, RunStatus.FAILED.value)
            raise
        _record_result(client, report)
        return report


def _compare_run(client: Client, report: ReproduceReport, tolerance: float, scratch: Path) -> None:
    outcome = report.outcome
    assert outcome is not None
    if outcome.status != RunStatus.FINISHED.value:
        row = Comparison("run", "exit code", "0", str(outcome.exit_code), False)
        report.fail(row, f"the re-run ended {outcome.status} with exit code {outcome.exit_code}")
        return
    _compare_image(client, report)
    _compare_metrics(client, report, tolerance)
    _compare_models(client, report, scratch)


def _compare_image(client: Client, report: ReproduceReport) -> None:
    """A docker_env run: the image the re-run used must be the same content (by id)."""
    key = "shipyard.docker.image_id"
    old = client.get_run(report.original_run_id).data.tags.get(key)
    if old is None:
        return
    new = client.get_run(report.run_id).data.tags.get(key, "-")
    row = Comparison("docker", "image id", old[:19], new[:19], old == new)
    if old == new:
        report.rows.append(row)
    else:
        report.fail(row, f"the docker image differs (id {old[:19]} vs {new[:19]})")


def _prepared(recorded: dict[str, Any], folder: Path) -> PreparedRun:
    """The recorded run's project, as checked out: recorded params, no new checks to fail."""
    from shipyard.projects._digests import DataDigest

    loaded = load_project(folder / recorded["project_file"] if recorded["project_file"] else folder)
    data = [
        DataDigest(
            d["path"],
            d["sha256"],
            d["size"],
            str(folder / d["path"]) if d["tracked"] else d["location"],
        )
        for d in recorded["data"]
    ]
    source = _git.describe_source(folder, [folder / d["path"] for d in recorded["data"]])
    try:
        manager = recorded["environment"]["manager"]
    except KeyError:
        raise NotFound("The recorded run has no environment manager.") from None
    src = recorded["source"]
    return PreparedRun(
        recorded["uri"], loaded, recorded["entry_point"], recorded["params"], recorded["command"],
        data, source, src.get("repo"), src.get("version"), manager,
    )  # fmt: skip
