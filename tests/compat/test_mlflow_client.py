"""The official ``mlflow`` 3.17 client, unchanged, against a real Shipyard server subprocess."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator

import mlflow
import pandas as pd
import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


@pytest.fixture(params=["sqlite", "postgres"])
def server_url(request: pytest.FixtureRequest) -> str:
    """The shared server on SQLite, and one on PostgreSQL: every test here runs on both."""
    fixture = "live_server" if request.param == "sqlite" else "pg_live_server"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def client(server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    # No client-side retries: a server error must fail the test now, not after minutes.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server_url)
    mlflow.set_tracking_uri(server_url)
    yield MlflowClient(server_url)
    while mlflow.active_run() is not None:
        mlflow.end_run("KILLED")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_code(excinfo: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(excinfo.value.error_code)


def test_fluent_run_with_nested_child(client: MlflowClient) -> None:
    exp = mlflow.set_experiment(unique("fluent"))
    assert exp.artifact_location == f"mlflow-artifacts:/{exp.experiment_id}"
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 3, "model": "rf"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8}, step=2)
        mlflow.set_tag("owner", "me")
        mlflow.set_tags({"team": "ml", "stage": "dev"})
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("child_metric", 7)
    run = client.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED" and run.info.end_time is not None
    assert run.info.run_name == "parent" and run.info.experiment_id == exp.experiment_id
    assert run.info.artifact_uri.startswith(f"mlflow-artifacts:/{exp.experiment_id}/")
    assert run.data.params == {"lr": "0.1", "depth": "3", "model": "rf"}
    assert run.data.metrics == {"loss": 0.2, "acc": 0.9, "f1": 0.8}
    assert {"owner": "me", "team": "ml", "stage": "dev"}.items() <= run.data.tags.items()
    assert run.data.tags["mlflow.user"] and run.data.tags["mlflow.source.name"]
    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(i, 1.0 / (i + 1)) for i in range(5)]
    kid = client.get_run(child.info.run_id)
    assert kid.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert kid.data.metrics == {"child_metric": 7.0}


def test_log_input_from_pandas(client: MlflowClient) -> None:
    mlflow.set_experiment(unique("inputs"))
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name="train-set", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "train-set"
    assert inputs[0].dataset.digest == dataset.digest
    assert inputs[0].dataset.source_type == "code" or inputs[0].dataset.source_type
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"


def test_a_runs_datasets_come_back_in_the_order_it_logged_them(client: MlflowClient) -> None:
    """As from MLflow 3.17.2's server: not in the order the datasets were first seen."""
    mlflow.set_experiment(unique("input-order"))
    x, y = (mlflow.data.from_pandas(pd.DataFrame({name: [1, 2]}), name=name) for name in "xy")
    run_ids = []
    for first, then in ((x, y), (y, x)):
        with mlflow.start_run() as run:
            mlflow.log_input(first, context="training")
            mlflow.log_input(then, context="training")
        run_ids.append(run.info.run_id)
    with mlflow.start_run() as run:  # several in one request
        entities = [mlflow.entities.DatasetInput(d._to_mlflow_entity(), []) for d in (y, x)]
        client.log_inputs(run.info.run_id, entities)
    run_ids.append(run.info.run_id)
    got = [[i.dataset.name for i in client.get_run(r).inputs.dataset_inputs] for r in run_ids]
    assert got == [["x", "y"], ["y", "x"], ["y", "x"]]


def test_search_runs_filters_orders_and_pages(client: MlflowClient) -> None:
    exp_id = client.create_experiment(unique("search"))
    for i in range(7):
        run = client.create_run(exp_id, run_name=f"r{i}", tags={"parity": str(i % 2)})
        client.log_metric(run.info.run_id, "score", float(i))
        client.log_param(run.info.run_id, "kind", "even" if i % 2 == 0 else "odd")
    found = client.search_runs(
        [exp_id], "metrics.score >= 2 and params.kind = 'even'", order_by=["metrics.score DESC"]
    )
    assert [r.data.metrics["score"] for r in found] == [6.0, 4.0, 2.0]
    tagged = client.search_runs([exp_id], "tags.parity = '1'", order_by=["attributes.run_name"])
    assert [r.info.run_name for r in tagged] == ["r1", "r3", "r5"]
    seen: list[str] = []
    token = None
    while True:
        page = client.search_runs([exp_id], max_results=3, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert len(seen) == len(set(seen)) == 7
    frame = mlflow.search_runs([exp_id], filter_string="metrics.score < 2")
    assert sorted(frame["metrics.score"]) == [0.0, 1.0]
    with pytest.raises(MlflowException) as bad:
        client.search_runs([exp_id], "metrics.score > 1 OR metrics.score < 0")
    assert error_code(bad) == "INVALID_PARAMETER_VALUE"


def test_search_experiments(client: MlflowClient) -> None:
    prefix = unique("exps")
    ids = [client.create_experiment(f"{prefix}-{i}", tags={"i": str(i)}) for i in range(3)]
    found = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name"])
    assert [e.experiment_id for e in found] == ids
    client.delete_experiment(ids[0])
    active = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'")
    assert {e.experiment_id for e in active} == set(ids[1:])
    deleted = client.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=f"name LIKE '{prefix}-%'"
    )
    assert [e.experiment_id for e in deleted] == [ids[0]]
    tagged = client.search_experiments(filter_string=f"tags.i = '2' and name LIKE '{prefix}%'")
    assert [e.experiment_id for e in tagged] == [ids[2]]
    page = client.search_experiments(max_results=1, filter_string=f"name LIKE '{prefix}-%'")
    assert len(page) == 1 and page.token


def test_delete_and_restore(client: MlflowClient) -> None:
    exp_id = client.create_experiment(unique("lifecycle"))
    run_id = client.create_run(exp_id).info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([exp_id]) == []
    client.restore_run(run_id)
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [run_id]
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    client.rename_experiment(exp_id, unique("renamed"))
    client.set_experiment_tag(exp_id, "k", "v")
    assert client.get_experiment(exp_id).tags["k"] == "v"


def test_error_codes(client: MlflowClient) -> None:
    with pytest.raises(MlflowException) as missing:
        client.get_run("f" * 32)
    assert error_code(missing) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as missing_exp:
        client.get_experiment("987654")
    assert error_code(missing_exp) == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_experiment_by_name(unique("absent")) is None
    name = unique("dup")
    client.create_experiment(name)
    with pytest.raises(MlflowException) as dup:
        client.create_experiment(name)
    assert error_code(dup) == "RESOURCE_ALREADY_EXISTS"
    run_id = client.create_run(client.get_experiment_by_name(name).experiment_id).info.run_id
    with pytest.raises(MlflowException) as bad_key:
        client.log_metric(run_id, "bad/../key", 1.0)
    assert error_code(bad_key) == "INVALID_PARAMETER_VALUE"
    client.log_param(run_id, "p", "1")
    with pytest.raises(MlflowException) as changed:
        client.log_param(run_id, "p", "2")
    assert error_code(changed) == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in str(changed.value)


def test_nan_and_infinite_metrics_round_trip(client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment(unique("nan"))).info.run_id
    client.log_metric(run_id, "nan", math.nan)
    client.log_metric(run_id, "pinf", math.inf)
    client.log_metric(run_id, "ninf", -math.inf)
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] > 1e308 and metrics["ninf"] < -1e308
    assert math.isnan(client.get_metric_history(run_id, "nan")[0].value)


def test_long_param_value_is_truncated_to_6000(client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment(unique("long"))).info.run_id
    try:
        client.log_param(run_id, "long", "x" * 7000)
    except MlflowException as exc:  # rejecting is allowed too; storing 7000 is not
        assert exc.error_code == "INVALID_PARAMETER_VALUE"
        return
    assert len(client.get_run(run_id).data.params["long"]) == 6000


def test_log_batch_and_update_run(client: MlflowClient) -> None:
    from mlflow.entities import Metric, Param, RunTag

    run_id = client.create_run(client.create_experiment(unique("batch"))).info.run_id
    metrics = [Metric("m", float(i), 1000 + i, i) for i in range(1000)]
    client.log_batch(run_id, metrics=metrics, params=[Param("a", "1")], tags=[RunTag("t", "v")])
    assert len(client.get_metric_history(run_id, "m")) == 1000
    client.set_terminated(run_id, "FAILED")
    info = client.get_run(run_id).info
    assert info.status == "FAILED" and info.end_time is not None


def test_search_reads_kept_finished_runs_and_sees_later_writes(client: MlflowClient) -> None:
    """The server keeps a finished run's JSON on its first search (``run_wire``): the second
    search reads it from there, the official client parses both the same, and a write to the
    finished run (a metric, a tag, a dataset) shows in the next search."""
    exp_id = client.create_experiment(unique("kept"))
    run = client.create_run(exp_id, run_name="kept")
    run_id = run.info.run_id
    client.log_param(run_id, "model", "rf")
    client.log_metric(run_id, "acc", 0.5, step=1)
    client.log_metric(run_id, "nan", math.nan)
    client.set_terminated(run_id, "FINISHED")

    def search() -> mlflow.entities.Run:
        (found,) = client.search_runs([exp_id], "params.model = 'rf'", ViewType.ALL)
        return found

    first, second = search(), search()
    assert repr(first.to_dictionary()) == repr(second.to_dictionary())  # (nan != nan)
    assert second.data.params == {"model": "rf"} and second.data.metrics["acc"] == 0.5
    assert math.isnan(second.data.metrics["nan"]) and second.info.status == "FINISHED"
    client.log_metric(run_id, "acc", 0.75, step=2)
    client.set_tag(run_id, "team", "ml")
    data = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="train")
    client.log_inputs(run_id, [mlflow.entities.DatasetInput(data._to_mlflow_entity(), [])])
    third = search()
    assert third.data.metrics["acc"] == 0.75 and third.data.tags["team"] == "ml"
    assert [d.dataset.name for d in third.inputs.dataset_inputs] == ["train"]
    client.delete_tag(run_id, "team")
    assert "team" not in search().data.tags


def test_edges_answer_as_mlflows_server_does(client: MlflowClient) -> None:
    """Cases where an earlier Shipyard differed from MLflow 3.17.2's server, as seen by its
    own client (each checked against that server): the codes, the latest value of a metric at
    one step and timestamp, and NaN in a search's filter and order."""
    exp = client.create_experiment(unique("edges"))
    run_id = client.create_run(exp, run_name="a").info.run_id
    for value in (2.0, 1.0):  # same step and timestamp: the larger value is the latest
        client.log_metric(run_id, "tie", value, timestamp=7, step=3)
    assert client.get_run(run_id).data.metrics["tie"] == 2.0
    with pytest.raises(MlflowException) as negative:
        client.log_metric(run_id, "m", 1.0, timestamp=-1)
    assert error_code(negative) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as dots:
        client.log_param(run_id, "..", "v")
    assert error_code(dots) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as no_tag:
        client.delete_tag(run_id, "nope")
    assert error_code(no_tag) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as bad_id:
        client.get_experiment("abc")
    assert error_code(bad_id) == "INVALID_PARAMETER_VALUE"
    assert client.get_metric_history("f" * 32, "m") == []
    nan_run = client.create_run(exp, run_name="nan").info.run_id
    client.log_metric(nan_run, "loss", math.nan)
    client.create_run(exp, run_name="none")
    client.log_metric(run_id, "loss", 1.0)
    found = client.search_runs([exp], "metrics.loss != 1")
    assert [r.info.run_name for r in found] == ["nan"]
    ordered = client.search_runs([exp], order_by=["metrics.loss DESC"])
    assert [r.info.run_name for r in ordered] == ["a", "nan", "none"]
