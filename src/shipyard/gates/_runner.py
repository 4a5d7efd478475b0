"""``shipyard.gates.run``: load the models, evaluate the policy, write and record the decision.

With a registered version (``models:/name/3``) the gate uses the registry: the baseline is the
version holding the policy's baseline alias, the report is logged as artifacts of the version's
source run, the decision is appended to the audit trail as a ``gate.decision`` event, and with
``promote=True`` the alias moves only if every blocking check passed. Folders and other URIs
are gated the same way without the registry (``baseline=`` names the model to compare with).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from shipyard.errors import InvalidParameter, NotFound, ShipyardError
from shipyard.gates._data import read_eval_data
from shipyard.gates._evaluate import evaluate
from shipyard.gates._html import render_report
from shipyard.gates._policy import Policy, load_policy
from shipyard.gates._registry import GATE_EVENT, ArtifactSink, Registry, parse_registry_uri
from shipyard.gates._result import CheckResult, GateReport
from shipyard.gates._subject import Subject, load_subject
from shipyard.settings import Settings

__all__ = [
    "REPORT_HTML",
    "REPORT_JSON",
    "Gate",
    "resolve_data",
    "resolve_policy",
    "run",
    "write_report",
]

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"


class _ClientArtifacts:
    """Report files into a run's artifacts through a ``shipyard.Client``."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def log_report(self, run_id: str, folder: Path, artifact_path: str) -> list[str]:
        from shipyard.client._artifacts import log_run_artifacts

        return log_run_artifacts(self._client, run_id, folder, artifact_path)


def write_report(report: GateReport, folder: str | Path, plots: bool = True) -> list[Path]:
    """``report.json`` and ``report.html`` in ``folder`` (created if needed)."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    files = [target / REPORT_JSON, target / REPORT_HTML]
    files[0].write_text(json.dumps(report.to_dict(), indent=2, default=str))
    files[1].write_text(render_report(report, plots))
    return files


def run(
    model_uri: str | Path,
    policy: Policy | str | Path,
    data: pd.DataFrame | str | Path | None = None,
    *,
    baseline: str | Path | None = None,
    promote: bool = False,
    reason: str | None = None,
    tracking_uri: str | None = None,
    registry: Registry | None = None,
    artifacts: ArtifactSink | None = None,
    output_dir: str | Path | None = None,
    trusted: bool = False,
    settings: Settings | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> GateReport:
    """Gate ``model_uri`` with ``policy`` on ``data`` (a DataFrame, a Parquet/CSV path, or the
    policy's ``data``). Returns the report; ``report.passed`` is the decision."""
    settings = settings or Settings.from_env()
    rules, policy_name = resolve_policy(policy)
    frame, data_name = resolve_data(data, rules)
    if promote and parse_registry_uri(str(model_uri)) is None:
        raise InvalidParameter(
            f"--promote moves a registry alias; {str(model_uri)!r} is not a registered version "
            "(give models:/<name>/<version>)"
        )
    gate = Gate(rules, policy_name, frame, data_name, registry, tracking_uri, trusted, settings)
    report, run_id = gate.assess(str(model_uri), baseline, reason, on_result)
    if gate.registry is not None and report.model_name and report.version:
        _record(report, gate.registry, artifacts, run_id, promote)
    if output_dir is not None:
        write_report(report, output_dir)
    return report


class Gate:
    """One policy on one evaluation set, ready to assess candidates (``run`` and ``compare``)."""

    def __init__(
        self,
        policy: Policy,
        policy_name: str,
        data: pd.DataFrame,
        data_name: str | None,
        registry: Registry | None,
        tracking_uri: str | None,
        trusted: bool,
        settings: Settings,
    ) -> None:
        self.policy, self.policy_name = policy, policy_name
        self.data, self.data_name = data, data_name
        self.registry = registry
        self._load = {"trusted": trusted, "settings": settings, "tracking_uri": tracking_uri}

    def _registry(self) -> Registry:
        if self.registry is None:
            self.registry = _default_registry(self._load["tracking_uri"], self._load["settings"])  # type: ignore[arg-type]
        return self.registry

    def assess(
        self,
        uri: str,
        baseline: str | Path | None = None,
        reason: str | None = None,
        on_result: Callable[[CheckResult], None] | None = None,
    ) -> tuple[GateReport, str | None]:
        """The report on ``uri`` (not recorded anywhere) and its version's source run id."""
        started = dt.datetime.now(dt.UTC)
        clock = time.perf_counter()
        name = version = run_id = None
        ref = parse_registry_uri(uri)
        if ref is not None:
            registry = self._registry()
            name, number, alias = ref
            found = (
                registry.get_model_version(name, number)
                if number is not None
                else registry.get_model_version_by_alias(name, str(alias))
            )
            version, run_id = str(found.version), found.run_id
            uri = f"models:/{name}/{version}"
        base_uri, base_version = _baseline(baseline, self.registry, name, version, self.policy)
        candidate = load_subject(uri, **self._load)  # type: ignore[arg-type]
        base: Subject | None = None
        if base_uri is not None:
            base = load_subject(base_uri, **self._load)  # type: ignore[arg-type]
        checks = evaluate(candidate, base, self.data, self.policy, on_result=on_result)
        report = GateReport(
            candidate=uri, policy=self.policy_name, promote_to=self.policy.promote_to,
            checks=checks, baseline=base_uri, model_name=name, version=version,
            baseline_version=base_version, data=self.data_name, rows=len(self.data),
            started=started.strftime("%Y-%m-%d %H:%M:%S"), reason=reason,
        )  # fmt: skip
        report.seconds = time.perf_counter() - clock
        return report, run_id


def resolve_policy(policy: Policy | str | Path) -> tuple[Policy, str]:
    if isinstance(policy, Policy):
        return policy, "(in memory)"
    return load_policy(policy), str(policy)


def resolve_data(
    data: pd.DataFrame | str | Path | None, policy: Policy
) -> tuple[pd.DataFrame, str | None]:
    if isinstance(data, pd.DataFrame):
        return data, None
    path = data if data is not None else policy.data
    if path is None:
        raise InvalidParameter(
            "No evaluation data: pass --data (or data=) or set `data` in the policy"
        )
    return read_eval_data(path), str(path)


def _default_registry(tracking_uri: str | None, settings: Settings) -> Registry:
    """A ``Client`` on ``tracking_uri``, else on the SDK's current tracking URI."""
    from shipyard.client import Client, get_tracking_uri

    client: Any = Client(tracking_uri or get_tracking_uri(), settings)
    if not isinstance(client, Registry):
        raise InvalidParameter("This Shipyard's client has no model registry")
    return client


def _baseline(
    baseline: str | Path | None,
    registry: Registry | None,
    name: str | None,
    version: str | None,
    policy: Policy,
) -> tuple[str | None, str | None]:
    """(URI, version) of the model to beat: given, or the holder of the baseline alias."""
    if baseline is not None:
        return str(baseline), None
    if registry is None or name is None:
        return None, None
    try:
        holder = registry.get_model_version_by_alias(name, policy.baseline_alias)
    except NotFound:
        return None, None
    except InvalidParameter as exc:  # MLflow's wire code for an unknown alias is a 400
        if "not found" in exc.message.lower():
            return None, None
        raise
    if str(holder.version) == version:
        return None, None  # the candidate already holds the alias: nothing else to compare with
    return f"models:/{name}/{holder.version}", str(holder.version)


def _record(
    report: GateReport,
    registry: Registry,
    artifacts: ArtifactSink | None,
    run_id: str | None,
    promote: bool,
) -> None:
    """Move the alias (when asked and passed), log the report, append the audit event."""
    name, version = str(report.model_name), str(report.version)
    if promote and report.passed:
        try:
            _promote(report, registry, name, version)
        except ShipyardError as exc:
            report.notes.append(f"the alias {report.promote_to!r} did not move: {exc.message}")
    sink = artifacts or (_ClientArtifacts(registry) if _is_client(registry) else None)
    if sink is not None and run_id:
        stamp = report.started.replace("-", "").replace(":", "").replace(" ", "T")
        folder = f"gates/{report.promote_to}-{stamp}Z"
        try:
            with tempfile.TemporaryDirectory(prefix="shipyard-gate-") as scratch:
                write_report(report, scratch)
                sink.log_report(run_id, Path(scratch), folder)
            report.artifacts = [f"runs:/{run_id}/{folder}/{n}" for n in (REPORT_JSON, REPORT_HTML)]
        except (ShipyardError, OSError) as exc:
            report.notes.append(f"the report could not be logged to run {run_id}: {exc}")
    elif not run_id:
        report.notes.append("the version has no source run: the report was not logged as artifacts")
    _tag_version(report, registry, name, version)
    details = {**report.summary(), "artifacts": report.artifacts, "notes": report.notes}
    details["promote_requested"] = promote
    verdict = "passed" if report.passed else f"failed {len(report.failures)} check(s)"
    registry.record_registry_event(
        name, GATE_EVENT, details, reason=report.reason or f"gate {verdict}", version=version
    )


def _tag_version(report: GateReport, registry: Registry, name: str, version: str) -> None:
    """``gate.<alias>`` = passed|failed (and where the report is) on the version itself, so the
    decision shows wherever versions are listed; skipped if the registry cannot tag."""
    tag = getattr(registry, "set_model_version_tag", None)
    if not callable(tag):
        return
    key = f"gate.{report.promote_to}"
    try:
        tag(name, version, key, "passed" if report.passed else "failed")
        if report.artifacts:
            tag(name, version, f"{key}.report", report.artifacts[-1])
    except ShipyardError as exc:
        report.notes.append(f"the version could not be tagged with the decision: {exc.message}")


def _promote(report: GateReport, registry: Registry, name: str, version: str) -> None:
    """Move the alias; a protected alias gets an approval request instead (when the registry
    offers ``move_alias``), which a second person approves."""
    why = report.reason or f"gate {report.policy}: all {len(report.checks)} checks passed"
    mover = getattr(registry, "move_alias", None)
    if not callable(mover):
        registry.set_registered_model_alias(name, report.promote_to, version, reason=why)
        report.promoted = True
        return
    moved = mover(name, report.promote_to, version, reason=why)
    request = getattr(moved, "request", None)
    if request is None:
        report.promoted = True
        return
    report.approval_request = str(request.id)
    report.notes.append(
        f"the alias {report.promote_to!r} is protected: approval request {request.id} was filed; "
        "the alias moves when a second person approves it"
    )


def _is_client(registry: Registry) -> bool:
    from shipyard.client import Client

    return isinstance(registry, Client)
