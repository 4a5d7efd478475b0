"""The fluent SDK against an in-process SQLite backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import shipyard
from shipyard.errors import FlushFailed, InvalidParameter, MissingRequiredTags


@pytest.fixture
def uri(tmp_path: Path) -> Iterator[str]:
    folder = str(tmp_path / "data")
    shipyard.set_tracking_uri(folder)
    yield folder
    while shipyard.active_run() is not None:
        shipyard.end_run("KILLED")
    shipyard.set_tracking_uri(None)


def test_run_lifecycle_records_everything(uri: str) -> None:
    exp = shipyard.set_experiment("fluent")
    with shipyard.start_run(run_name="r1", tags={"team": "ml"}) as run:
        shipyard.log_param("lr", 0.1)
        shipyard.log_params({"depth": 3, "model": "rf"})
        for step in range(5):
            shipyard.log_metric("loss", 1.0 / (step + 1), step=step)
        shipyard.log_metrics({"acc": 0.9, "f1": 0.8})
        shipyard.set_tags({"owner": "me"})
    stored = shipyard.Client(uri).get_run(run.run_id)
    assert stored.info.experiment_id == exp.experiment_id
    assert stored.info.status == "FINISHED" and stored.info.end_time is not None
    assert stored.data.params == {"lr": "0.1", "depth": "3", "model": "rf"}
    latest = {m.key: m.value for m in stored.data.metrics}
    assert latest == {"loss": pytest.approx(0.2), "acc": 0.9, "f1": 0.8}
    assert stored.data.tags["team"] == "ml" and stored.data.tags["owner"] == "me"
    assert stored.data.tags["mlflow.runName"] == "r1"
    # where it came from
    for key in ("mlflow.user", "mlflow.source.name", "shipyard.host", "shipyard.python_version"):
        assert stored.data.tags[key]


def test_failed_run_status(uri: str) -> None:
    with pytest.raises(RuntimeError), shipyard.start_run() as run:
        raise RuntimeError("boom")
    assert shipyard.Client(uri).get_run(run.run_id).info.status == "FAILED"


def test_nested_runs_and_resume(uri: str) -> None:
    with shipyard.start_run() as parent:
        with shipyard.start_run(nested=True) as child:
            pass
        with pytest.raises(InvalidParameter, match="already active"):
            shipyard.start_run()
    client = shipyard.Client(uri)
    assert client.get_run(child.run_id).data.tags["mlflow.parentRunId"] == parent.run_id
    with shipyard.start_run(run_id=parent.run_id):
        shipyard.log_metric("later", 1.0)
    resumed = client.get_run(parent.run_id)
    assert resumed.info.status == "FINISHED"
    assert {m.key for m in resumed.data.metrics} == {"later"}


def test_every_buffered_point_is_stored(uri: str) -> None:
    with shipyard.start_run() as run:
        for i in range(25_000):
            shipyard.log_metric("m", float(i), step=i)
    history = shipyard.Client(uri).get_metric_history(run.run_id, "m")
    assert len(history) == 25_000
    assert sorted(p.step for p in history) == list(range(25_000))


def test_log_metric_does_not_wait_on_the_backend(uri: str) -> None:
    """The call only queues: the points reach the store after flush(), not before."""
    with shipyard.start_run() as run:
        active = shipyard.active_run()
        assert active is not None
        for i in range(5000):
            shipyard.log_metric("q", float(i), step=i)
        assert (
            active.buffer.pending > 0
            or len(shipyard.Client(uri).get_metric_history(run.run_id, "q")) > 0
        )
        shipyard.flush()
        assert active.buffer.pending == 0
        assert len(shipyard.Client(uri).get_metric_history(run.run_id, "q")) == 5000


def test_flush_failure_reports_lost_points(uri: str) -> None:
    run = shipyard.start_run()
    active = shipyard.active_run()
    assert active is not None
    shipyard.Client(uri).delete_run(run.run_id)  # the store now refuses writes
    for i in range(10):
        shipyard.log_metric("x", float(i), step=i)
    with pytest.raises(FlushFailed) as err:
        shipyard.flush()
    assert err.value.lost == 10
    shipyard.Client(uri).restore_run(run.run_id)
    shipyard.end_run()


def test_bad_metric_key_fails_at_the_call(uri: str) -> None:
    with shipyard.start_run(), pytest.raises(InvalidParameter):
        shipyard.log_metric("bad key!", 1.0)


def test_required_tags(uri: str) -> None:
    shipyard.set_experiment("audited", required_tags=["owner", "data_version"])
    run = shipyard.start_run()
    shipyard.set_tag("owner", "me")
    with pytest.raises(MissingRequiredTags, match="data_version"):
        shipyard.end_run()
    shipyard.set_tag("data_version", "v1")
    shipyard.end_run()
    assert shipyard.Client(uri).get_run(run.run_id).info.status == "FINISHED"


def test_log_input_digest_is_content_based(uri: str) -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.1, 0.2, 0.3]})
    with shipyard.start_run() as run:
        d1 = shipyard.log_input(df, name="train", context="training")
        d2 = shipyard.log_input(df.copy(), name="train", context="training")
        d3 = shipyard.log_input(df.assign(b=[0.1, 0.2, 0.4]), name="train2")
    assert d1 == d2 != d3
    inputs = shipyard.Client(uri).get_run(run.run_id).inputs
    assert {i.dataset.name for i in inputs} == {"train", "train2"}
    train = next(i for i in inputs if i.dataset.name == "train")
    assert '"num_rows": 3' in (train.dataset.profile or "")
    assert ("mlflow.data.context", "training") in [(t.key, t.value) for t in train.tags]


def test_log_metric_sends_from_the_background_thread(uri: str) -> None:
    """The training loop's thread never talks to the backend; the buffer's thread does."""
    callers: list[str] = []
    with shipyard.start_run() as run:
        real = run.client.log_batch

        def spy(*args: object, **kwargs: object) -> None:
            callers.append(threading.current_thread().name)
            real(*args, **kwargs)  # type: ignore[arg-type]

        run.client.log_batch = spy  # type: ignore[method-assign]
        for i in range(3000):
            shipyard.log_metric("bg", float(i), step=i)
        deadline = time.monotonic() + 10
        while len(callers) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        run.client.log_batch = real  # type: ignore[method-assign]
    assert callers and all(name.startswith("shipyard-metrics-") for name in callers)


def test_the_tracking_uri_is_read_from_the_environment_when_first_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``import shipyard`` first, then the variable: the SDK still uses it (as MLflow does)."""
    shipyard.set_tracking_uri(None)
    folder = str(tmp_path / "from-env")
    monkeypatch.setenv("SHIPYARD_TRACKING_URI", folder)
    try:
        with shipyard.start_run() as run:
            shipyard.log_param("p", "1")
        assert folder in shipyard.get_tracking_uri()
        stored = shipyard.Client(folder).get_run(run.info.run_id)
        assert stored.data.params == {"p": "1"}
    finally:
        shipyard.set_tracking_uri(None)
