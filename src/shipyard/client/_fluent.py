"""The fluent API: ``shipyard.start_run()``, ``log_metric`` ... with a per-process active run."""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from shipyard.artifacts import FileInfo
from shipyard.client import _artifacts
from shipyard.client._buffer import MetricBuffer
from shipyard.client._client import Client, now_ms
from shipyard.client._datasets import dataset_input
from shipyard.client._source import source_tags
from shipyard.entities import Experiment, Metric, ModelVersion, Param, Run, RunStatus, Tag
from shipyard.errors import InvalidParameter
from shipyard.settings import Settings
from shipyard.tracking._validation import check_key

__all__ = [
    "ActiveRun",
    "active_run",
    "download_artifacts",
    "end_run",
    "flush",
    "get_tracking_uri",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]


class _State:
    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self.tracking_uri: str | None = None
        self.client: Client | None = None
        self.experiment_id: str | None = None
        self.runs: list[ActiveRun] = []
        self.lock = threading.RLock()
        self.metric_keys: set[str] = set()
        # The run handed in by SHIPYARD_RUN_ID / MLFLOW_RUN_ID, resumed once by start_run().
        self.inherited_run_id: str | None = self.settings.run_id

    def get_client(self) -> Client:
        if self.client is None:
            # The environment as it is now: a script may set SHIPYARD_TRACKING_URI after
            # ``import shipyard``, as it may MLFLOW_TRACKING_URI after ``import mlflow``.
            self.settings = Settings.from_env()
            self.client = Client(self.tracking_uri, self.settings)
        return self.client


_state = _State()


class ActiveRun:
    """The run ``start_run`` made active; a context manager that ends it."""

    def __init__(self, run: Run, client: Client, buffer: MetricBuffer) -> None:
        self.run = run
        self.client = client
        self.buffer = buffer

    @property
    def info(self) -> Any:
        return self.run.info

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status = RunStatus.FINISHED
        if exc_type is KeyboardInterrupt:
            status = RunStatus.KILLED
        elif exc_type is not None:
            status = RunStatus.FAILED
        if _state.runs and _state.runs[-1] is self:
            end_run(status.value)


def set_tracking_uri(uri: str | None) -> None:
    with _state.lock:
        _state.tracking_uri = uri
        _state.client = None
        _state.experiment_id = None


def get_tracking_uri() -> str:
    return _state.get_client().tracking_uri


def set_experiment(
    name: str | None = None,
    experiment_id: str | None = None,
    required_tags: list[str] | None = None,
) -> Experiment:
    """Make an experiment active, creating it (by name) if it does not exist."""
    client = _state.get_client()
    if experiment_id is not None:
        exp = client.get_experiment(experiment_id)
    elif name:
        found = client.get_experiment_by_name(name)
        if found is None:
            client.create_experiment(name, required_tags=required_tags or ())
            found = client.get_experiment_by_name(name)
        assert found is not None
        exp = found
    else:
        raise InvalidParameter("set_experiment needs a name or an experiment_id.")
    if exp.lifecycle_stage != "active":
        raise InvalidParameter(f"Experiment '{exp.name}' is deleted; restore it first.")
    if required_tags and experiment_id is None:
        client.set_required_tags(exp.experiment_id, required_tags)
    _state.experiment_id = exp.experiment_id
    return exp


def active_run() -> ActiveRun | None:
    return _state.runs[-1] if _state.runs else None


def _resume(client: Client, run_id: str) -> Run:
    run = client.get_run(run_id)
    client.update_run(run_id, status=RunStatus.RUNNING.value)
    return client.get_run(run.info.run_id)


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> ActiveRun:
    """Start (or resume, with ``run_id``) a run and make it active.

    Without ``run_id``, the first top-level run of a process resumes ``SHIPYARD_RUN_ID`` (or
    ``MLFLOW_RUN_ID``) when set: that is how ``shipyard run`` hands its run to a project's command.
    """
    with _state.lock:
        client = _state.get_client()
        parent = active_run()
        if parent is not None and not nested:
            raise InvalidParameter(
                f"Run {parent.run_id} is already active. End it with shipyard.end_run() first, "
                "or start this one with nested=True."
            )
        if not run_id and parent is None and _state.inherited_run_id:
            run_id, _state.inherited_run_id = _state.inherited_run_id, None
        if run_id:
            run = _resume(client, run_id)
        else:
            all_tags = source_tags(_state.settings.user) | {
                k: str(v) for k, v in (tags or {}).items()
            }
            if parent is not None:
                all_tags["mlflow.parentRunId"] = parent.run_id
            if description:
                all_tags["mlflow.note.content"] = description
            exp_id = experiment_id or _state.experiment_id or "0"
            run = client.create_run(exp_id, run_name, all_tags)
        buffer = MetricBuffer(run.info.run_id, _send(client), _state.settings.metric_flush_interval)
        active = ActiveRun(run, client, buffer)
        _state.runs.append(active)
        return active


def _send(client: Client) -> Any:
    def send(run_id: str, batch: Any) -> None:
        client.log_batch(run_id, metrics=batch)

    return send


def _require_run() -> ActiveRun:
    run = active_run()
    if run is None:
        run = start_run()
    return run


def end_run(status: str = "FINISHED") -> None:
    """Flush buffered metrics and finish the active run (FAILED or KILLED also accepted)."""
    with _state.lock:
        run = active_run()
        if run is None:
            return
        try:
            run.buffer.close()
        finally:
            run.client.set_terminated(run.run_id, status)
            _state.runs.pop()


def flush() -> None:
    """Send the active run's buffered metrics now."""
    run = active_run()
    if run is not None:
        run.buffer.flush()


def log_param(key: str, value: Any) -> Any:
    run = _require_run()
    run.client.log_param(run.run_id, key, value)
    return value


def log_params(params: Mapping[str, Any]) -> None:
    run = _require_run()
    run.client.log_batch(run.run_id, params=[Param(k, str(v)) for k, v in params.items()])


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Queue one metric point; it is sent in the background (see ``flush``)."""
    run = _state.runs[-1] if _state.runs else _require_run()
    if key not in _state.metric_keys:
        check_key("metric", key, _state.settings.limits)
        _state.metric_keys.add(key)
    if not isinstance(value, int | float):
        raise InvalidParameter(f"Metric '{key}' has value {value!r}, which is not a number.")
    ts = timestamp if timestamp is not None else now_ms()
    run.buffer.add(Metric(key, float(value), ts, step or 0))


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    ts = now_ms()
    for key, value in metrics.items():
        log_metric(key, value, step, ts)


def set_tag(key: str, value: Any) -> None:
    run = _require_run()
    run.client.set_tag(run.run_id, key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    run = _require_run()
    run.client.log_batch(run.run_id, tags=[Tag(k, str(v)) for k, v in tags.items()])


def log_input(
    dataset: Any,
    name: str | None = None,
    source: str | None = None,
    context: str | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Record a pandas DataFrame or pyarrow Table as a run input; returns its content digest."""
    run = _require_run()
    item = dataset_input(dataset, name, source, context, tags)
    run.client.log_inputs(run.run_id, [item])
    return item.dataset.digest


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    """Upload a file into the active run's artifacts; returns its artifact path."""
    run = _require_run()
    return _artifacts.log_run_artifact(run.client, run.run_id, local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> list[str]:
    """Upload every file below a folder, keeping its layout."""
    run = _require_run()
    return _artifacts.log_run_artifacts(run.client, run.run_id, local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> str:
    run = _require_run()
    return _artifacts.log_run_text(run.client, run.run_id, text, artifact_file)


def log_dict(data: Any, artifact_file: str) -> str:
    """Save a dict as JSON (or YAML for .yaml/.yml names) in the run's artifacts."""
    run = _require_run()
    return _artifacts.log_run_dict(run.client, run.run_id, data, artifact_file)


def log_figure(figure: Any, artifact_file: str, save_kwargs: dict[str, Any] | None = None) -> str:
    """Save a matplotlib figure in the format its name says (``plots/roc.png``, ``.svg`` ...)."""
    run = _require_run()
    return _artifacts.log_run_figure(run.client, run.run_id, figure, artifact_file, save_kwargs)


def log_table(data: Any, artifact_file: str) -> str:
    """Save a DataFrame or a dict of columns as a table (``.json`` as MLflow writes it, or
    ``.parquet``); logging to the same file again appends the rows."""
    run = _require_run()
    return _artifacts.log_run_table(run.client, run.run_id, data, artifact_file)


def list_artifacts(run_id: str | None = None, path: str = "") -> list[FileInfo]:
    client, rid = _run_ref(run_id)
    return _artifacts.list_run_artifacts(client, rid, path)


def download_artifacts(
    run_id: str | None = None, path: str = "", dst: str | os.PathLike[str] = "."
) -> Path:
    """Download a file or folder of a run's artifacts (the whole run by default)."""
    client, rid = _run_ref(run_id)
    return _artifacts.download_run_artifacts(client, rid, path, dst)


def _run_ref(run_id: str | None) -> tuple[Client, str]:
    if run_id is not None:
        return _state.get_client(), run_id
    run = active_run()
    if run is None:
        raise InvalidParameter("No active run: pass run_id.")
    return run.client, run.run_id


def _at_exit() -> None:
    while _state.runs:
        run = _state.runs[-1]
        run.buffer.close_at_exit()
        try:
            run.client.set_terminated(run.run_id, RunStatus.FINISHED.value)
        except Exception as exc:  # at exit: report, never raise
            print(f"shipyard: could not end run {run.run_id}: {exc}")
        _state.runs.pop()


atexit.register(_at_exit)


def register_model(
    model_uri: str,
    name: str,
    tags: dict[str, Any] | None = None,
    reason: str | None = None,
) -> ModelVersion:
    """Register ``model_uri`` (``runs:/<run_id>/<path>`` or ``models:/m-<id>``) as a new version
    of ``name``, creating the registered model if it does not exist yet."""
    return _state.get_client().register_model(model_uri, name, tags, reason)
