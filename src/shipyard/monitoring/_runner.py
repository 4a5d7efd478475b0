"""``monitor run``: evaluate a policy's alerts on the latest closed windows and act.

Each run re-reads the last ``lookback_windows`` windows (late labels change old windows), so an
alert on F1 fires when the labels arrive, not when the predictions were made. The version under
watch is the one the policy's alias points to (every logged version when there is no alias or
no registry). Every opened incident and every action goes into the registry's audit trail with
the window values that triggered it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shipyard.errors import ShipyardError
from shipyard.monitoring._actions import (
    ACTION_EVENT,
    ALERT_EVENT,
    ActionContext,
    Registry,
    run_action,
)
from shipyard.monitoring._baseline import run_baseline
from shipyard.monitoring._incidents import MAX_ATTEMPTS, IncidentBook, locked_book
from shipyard.monitoring._monitor import Baseline, Monitor, WindowResult
from shipyard.monitoring._policy import PERFORMANCE_METRICS, Alert, MonitorPolicy
from shipyard.monitoring._reference import Reference, load_reference
from shipyard.settings import S3Settings

__all__ = ["policy_monitor", "run_once"]

log = logging.getLogger(__name__)

_WINDOW = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


def policy_monitor(
    policy: MonitorPolicy,
    clock: Callable[[], dt.datetime] | None = None,
    tracking_uri: str | None = None,
    s3: S3Settings | None = None,
) -> Monitor:
    """A ``Monitor`` over the policy's log and state folder, with references from the policy's
    ``reference`` or else each version's model package in the registry."""
    if policy.reference is not None:
        fixed = load_reference(policy.reference, tracking_uri=tracking_uri)
        return Monitor(
            policy.inference_log, policy.state_dir, fixed, drift=policy.drift, clock=clock, s3=s3
        )

    def from_registry(model: str, version: str) -> Reference | None:
        try:
            return load_reference(f"models:/{model}/{version}", tracking_uri=tracking_uri)
        except ShipyardError as exc:
            log.warning("no reference profile for %s version %s: %s", model, version, exc)
            return None

    return Monitor(
        policy.inference_log,
        policy.state_dir,
        from_registry,
        drift=policy.drift,
        clock=clock,
        s3=s3,
    )


def run_once(policy: MonitorPolicy, monitor: Monitor, context: ActionContext) -> dict[str, Any]:
    """One evaluation of every alert; returns what fired, opened, acted and closed."""
    now = monitor.now()
    span = _WINDOW[policy.window_spec.unit]
    until = _floor(now, span)
    since = until - policy.lookback_windows * span
    versions = _watched_versions(policy, monitor, context.registry)
    baseline: Baseline = policy.performance.baseline or None
    if baseline is None and hasattr(context.registry, "get_run"):  # a Client: the run's metrics
        baseline = run_baseline(context.registry, policy.model)
    summary: dict[str, Any] = {
        "model": policy.model,
        "evaluated_at": now.isoformat(),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "versions": versions,
        "alerts": [],
        "opened": [],
        "actions": [],
        "closed": [],
    }
    with locked_book(Path(policy.state_dir), policy.model) as book:
        for version in versions:
            windows = monitor.windows(
                policy.model,
                version,
                since,
                until,
                policy.window_spec,
                task=policy.performance.task,
                positive_label=policy.performance.positive_label,
                baseline=baseline,
            )
            for alert in policy.alerts:
                evidence = _evidence(alert, windows)
                firing = _firing(alert, evidence)
                summary["alerts"].append(
                    {"alert": alert.name, "version": version, "firing": firing,
                     "latest": evidence[-1] if evidence else None}
                )  # fmt: skip
                _track(policy, book, alert, version, firing, evidence, now, context, summary)
        names = {alert.name for alert in policy.alerts}
        for incident in book.open_incidents():
            if incident["alert"] not in names:
                _close(incident, now, "the alert is no longer in the policy", summary)
            elif incident["version"] not in versions:
                _close(incident, now, "the version is no longer watched", summary)
    return summary


def _watched_versions(
    policy: MonitorPolicy, monitor: Monitor, registry: Registry | None
) -> list[str]:
    if policy.alias and registry is not None:
        try:
            return [registry.get_model_version_by_alias(policy.model, policy.alias).version]
        except ShipyardError as exc:
            log.warning("alias %s of %s: %s", policy.alias, policy.model, exc)
    return monitor.versions(policy.model)


def _evidence(alert: Alert, windows: list[WindowResult]) -> list[dict[str, Any]]:
    """The windows with enough data for ``alert``, each with the metric's value."""
    found = []
    for window in windows:
        value = _value(alert, window)
        if value is not None:
            found.append({"start": window["start"], "end": window["end"], "value": value})
    return found


def _value(alert: Alert, window: WindowResult) -> float | None:
    if window["rows"] < alert.min_rows:
        return None
    metric = alert.metric
    if metric in PERFORMANCE_METRICS:
        perf = window["performance"]
        if not perf or perf["labelled_rows"] < alert.min_labels:
            return None
        found = perf["metrics"].get(metric)
        return None if found is None else float(found)
    if metric in ("drift_share", "drifted_columns", "prediction_drift"):
        drift = window["drift"]
        if not drift:
            return None
        if metric == "drifted_columns":
            return float(len(drift["drifted_columns"]))
        if metric == "prediction_drift":
            return 1.0 if drift["prediction_drift"] else 0.0
        share = drift["drift_share"]
        return None if share is None else float(share)
    ops = window["operations"]
    found = ops.get(metric)
    return None if found is None else float(found)


def _firing(alert: Alert, evidence: list[dict[str, Any]]) -> bool:
    recent = evidence[-alert.for_windows :]
    return len(recent) == alert.for_windows and all(alert.breached(e["value"]) for e in recent)


def _track(
    policy: MonitorPolicy,
    book: IncidentBook,
    alert: Alert,
    version: str,
    firing: bool,
    evidence: list[dict[str, Any]],
    now: dt.datetime,
    context: ActionContext,
    summary: dict[str, Any],
) -> None:
    incident = book.open_incident(alert.name, version)
    if incident is None and not firing:
        return
    if incident is not None and not firing:
        _close(incident, now, "the condition no longer holds", summary)
        return
    if incident is None:
        incident = {
            "id": uuid.uuid4().hex,
            "model": policy.model,
            "version": version,
            "alert": alert.name,
            "condition": alert.describe(),
            "opened_at": now.isoformat(),
            "closed_at": None,
            "evidence": evidence[-max(alert.for_windows, 3) :],
            "actions": {name: {"status": "pending", "attempts": 0} for name in alert.actions},
        }
        book.incidents.append(incident)
        summary["opened"].append(incident["id"])
        _audit(context, incident, ALERT_EVENT, _alert_details(incident), summary)
    for name, state in incident["actions"].items():
        if state["status"] == "done" or state["attempts"] >= MAX_ATTEMPTS:
            continue
        _act(policy, incident, name, state, context, summary)


def _act(
    policy: MonitorPolicy,
    incident: dict[str, Any],
    name: str,
    state: dict[str, Any],
    context: ActionContext,
    summary: dict[str, Any],
) -> None:
    action = policy.actions[name]
    state["attempts"] += 1
    try:
        result = run_action(action, incident, context)
    except Exception as exc:  # any failure is recorded and retried on the next run
        state.update(status="failed", error=str(exc)[:500])
    else:
        state.update(status="done", result=result, error=None)
    record = {"incident": incident["id"], "action": name, "type": action.type, **state}
    summary["actions"].append(record)
    _audit(context, incident, ACTION_EVENT, record, summary)


def _close(incident: dict[str, Any], now: dt.datetime, why: str, summary: dict[str, Any]) -> None:
    incident["closed_at"] = now.isoformat()
    incident["closed_because"] = why
    summary["closed"].append(incident["id"])


def _alert_details(incident: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("id", "alert", "condition", "version", "opened_at", "evidence")
    return {"incident": incident["id"], **{k: incident[k] for k in keys if k != "id"}}


def _audit(
    context: ActionContext,
    incident: dict[str, Any],
    event: str,
    details: dict[str, Any],
    summary: dict[str, Any],
) -> None:
    if context.registry is None:
        return
    reason = f"{incident['alert']}: {incident['condition']}"
    try:
        context.registry.record_registry_event(
            incident["model"], event, details, reason=reason, version=incident["version"]
        )
    except Exception as exc:  # the audit trail being down must not stop the actions
        incident.setdefault("audit_errors", []).append(f"{event}: {exc}"[:300])
        summary.setdefault("audit_errors", []).append(str(exc)[:300])


def _floor(moment: dt.datetime, span: dt.timedelta) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return epoch + ((moment - epoch) // span) * span
