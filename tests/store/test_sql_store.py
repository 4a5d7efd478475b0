"""The tracking store's contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import base64
import json
import math
import threading
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Connection

from shipyard import wire
from shipyard.entities import Dataset, DatasetInput, Metric, Param, RunStatus, Tag, ViewType
from shipyard.errors import (
    AlreadyExists,
    ExperimentNotFound,
    ImmutableParam,
    InactiveResource,
    InvalidFilter,
    InvalidParameter,
    MissingRequiredTags,
    NotFound,
    RunNotFound,
)
from shipyard.store import RunQuery
from shipyard.store.search import encode_page_token
from shipyard.store.sql import SqlStore
from shipyard.tracking import REQUIRED_TAGS_KEY, TrackingService


def _run(service: TrackingService, exp: str = "0", name: str | None = None, start: int = 1) -> str:
    return service.create_run(exp, "alice", start, (), name).info.run_id


# -- experiments ---------------------------------------------------------------------------------
def test_default_experiment_exists(service: TrackingService) -> None:
    exp = service.get_experiment("0")
    assert exp.name == "Default"
    assert exp.artifact_location.endswith("/0")


def test_create_get_and_tags(service: TrackingService) -> None:
    exp_id = service.create_experiment("e1", tags=[Tag("team", "ml")])
    exp = service.get_experiment(exp_id)
    assert (exp.name, exp.tags, exp.lifecycle_stage) == ("e1", {"team": "ml"}, "active")
    assert exp.artifact_location.endswith(f"/{exp_id}")
    assert service.get_experiment_by_name("e1") == exp
    assert service.get_experiment_by_name("nope") is None


def test_duplicate_experiment_name(service: TrackingService) -> None:
    service.create_experiment("dup")
    with pytest.raises(AlreadyExists, match="dup"):
        service.create_experiment("dup")


def test_missing_experiment(service: TrackingService) -> None:
    with pytest.raises(ExperimentNotFound):
        service.get_experiment("999")
    with pytest.raises(ExperimentNotFound):
        service.get_experiment("99999999999")  # a number, past what the column holds
    # not a number at all: a bad id, as MLflow's server answers (400, not 404)
    with pytest.raises(InvalidParameter, match="Invalid experiment ID 'abc'") as bad:
        service.get_experiment("abc")
    assert not isinstance(bad.value, ExperimentNotFound)
    with pytest.raises(InvalidParameter, match="Invalid experiment ID"):
        service.create_run("1x", "u", 1)
    with pytest.raises(InvalidParameter, match="Invalid experiment ID 'abc'"):
        service.search_runs(["0", "abc"])
    assert service.search_runs(["99999999999"]).items == []  # a number: no runs, no error


def test_delete_restore_experiment_cascades_to_runs(service: TrackingService) -> None:
    exp_id = service.create_experiment("gone")
    run_id = _run(service, exp_id)
    service.delete_experiment(exp_id)
    assert service.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert service.get_run(run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(InactiveResource):
        service.create_run(exp_id, "u", 1)
    service.restore_experiment(exp_id)
    assert service.get_run(run_id).info.lifecycle_stage == "active"


def test_only_an_active_experiment_is_deleted_and_only_a_deleted_one_restored(
    service: TrackingService,
) -> None:
    """As on MLflow's server: the other way round is "not found" (404)."""
    exp_id = service.create_experiment("twice")
    with pytest.raises(ExperimentNotFound, match="is not deleted"):
        service.restore_experiment(exp_id)
    service.delete_experiment(exp_id)
    with pytest.raises(ExperimentNotFound, match="is already deleted"):
        service.delete_experiment(exp_id)
    service.restore_experiment(exp_id)
    assert service.get_experiment(exp_id).lifecycle_stage == "active"


def test_create_run_checks_its_experiment(service: TrackingService) -> None:
    """Creating a run (one statement on PostgreSQL) refuses a missing or deleted experiment
    and then leaves no run behind; the run it makes is the run that is stored."""
    with pytest.raises(ExperimentNotFound, match="id=999"):
        service.create_run("999", "u", 1)
    exp_id = service.create_experiment("runs-here/")
    service.delete_experiment(exp_id)
    with pytest.raises(InactiveResource, match="must be in the 'active' state"):
        service.create_run(exp_id, "u", 1)
    service.restore_experiment(exp_id)
    assert service.search_runs([exp_id]).items == []
    made = service.create_run(exp_id, "me", 5, [Tag("k", "v")], run_name="named")
    stored = service.get_run(made.info.run_id)
    assert stored.info == made.info and stored.data.tags == made.data.tags
    assert made.info.artifact_uri.endswith(f"/{exp_id}/{made.info.run_id}/artifacts")
    assert stored.data.tags == {"k": "v", "mlflow.runName": "named"}


def test_an_empty_run_name_changes_nothing(service: TrackingService) -> None:
    """As on MLflow's server: an empty ``mlflow.runName`` tag (alone or in a batch with other
    data) or an empty new name leaves the run's name as it was."""
    run_id = _run(service, name="orig")
    service.log_batch(run_id, tags=[Tag("mlflow.runName", "")])
    service.log_batch(run_id, params=[Param("p", "1")], tags=[Tag("mlflow.runName", "")])
    service.update_run_info(run_id, run_name="")
    run = service.get_run(run_id)
    assert (run.info.run_name, run.data.tags["mlflow.runName"]) == ("orig", "orig")
    assert run.data.params == {"p": "1"}
    service.log_batch(run_id, tags=[Tag("mlflow.runName", "new")])
    assert service.get_run(run_id).info.run_name == "new"


def test_tags_given_at_creation_keep_their_whole_value(service: TrackingService) -> None:
    """As on MLflow's server, which limits tag values only when they are set later: a long
    Markdown description (``mlflow.note.content``) keeps its tail; a later set-tag is cut."""
    note = "d" * 30_000
    run_id = service.create_run("0", "u", 1, [Tag("mlflow.note.content", note)]).info.run_id
    assert service.get_run(run_id).data.tags["mlflow.note.content"] == note
    service.log_batch(run_id, tags=[Tag("mlflow.note.content", note)])
    assert len(service.get_run(run_id).data.tags["mlflow.note.content"]) == 8000
    with pytest.raises(InvalidParameter, match="Invalid tag name"):
        service.create_run("0", "u", 1, [Tag("a/../b", "v")])  # keys are checked all the same


def test_a_run_name_and_another_name_tag_are_refused(service: TrackingService) -> None:
    same = service.create_run("0", "u", 1, [Tag("mlflow.runName", "a")], run_name="a")
    assert same.info.run_name == "a"
    with pytest.raises(InvalidParameter, match=r"run_name='a', mlflow\.runName='b'"):
        service.create_run("0", "u", 1, [Tag("mlflow.runName", "b")], run_name="a")
    assert len(service.search_runs(["0"]).items) == 1


def test_a_run_name_tag_in_a_batch_renames_the_run(service: TrackingService) -> None:
    run_id = _run(service, name="before")
    service.log_batch(run_id, params=[Param("p", "1")], tags=[Tag("mlflow.runName", "after")])
    run = service.get_run(run_id)
    assert run.info.run_name == "after" and run.data.tags["mlflow.runName"] == "after"
    assert run.data.params == {"p": "1"}


def test_default_experiment_cannot_be_deleted(service: TrackingService) -> None:
    with pytest.raises(InvalidParameter):
        service.delete_experiment("0")


def test_rename_experiment(service: TrackingService) -> None:
    a = service.create_experiment("a")
    service.create_experiment("b")
    service.rename_experiment(a, "a2")
    assert service.get_experiment(a).name == "a2"
    with pytest.raises(AlreadyExists):
        service.rename_experiment(a, "b")


def test_experiment_tags_set_and_delete(service: TrackingService) -> None:
    exp_id = service.create_experiment("t")
    service.set_experiment_tag(exp_id, Tag("k", "v1"))
    service.set_experiment_tag(exp_id, Tag("k", "v2"))
    assert service.get_experiment(exp_id).tags == {"k": "v2"}
    service.delete_experiment_tag(exp_id, "k")
    assert service.get_experiment(exp_id).tags == {}
    with pytest.raises(NotFound, match="No tag with name: k in experiment"):
        service.delete_experiment_tag(exp_id, "k")


def test_search_experiments_filter_order_paging(service: TrackingService) -> None:
    for i in range(5):
        service.create_experiment(f"exp-{i}", tags=[Tag("i", str(i))])
    page = service.search_experiments(
        filter_string="name LIKE 'exp-%'", max_results=2, order_by=["name ASC"]
    )
    assert [e.name for e in page.items] == ["exp-0", "exp-1"]
    page2 = service.search_experiments(
        filter_string="name LIKE 'exp-%'",
        max_results=2,
        order_by=["name ASC"],
        page_token=page.next_page_token,
    )
    assert [e.name for e in page2.items] == ["exp-2", "exp-3"]
    tagged = service.search_experiments(filter_string="tags.i = '3'")
    assert [e.name for e in tagged.items] == ["exp-3"]
    service.delete_experiment(tagged.items[0].experiment_id)
    deleted = service.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.name for e in deleted.items] == ["exp-3"]
    assert len(service.search_experiments(view_type=ViewType.ALL).items) == 6


# -- runs -----------------------------------------------------------------------------------------
def test_create_run_fields(service: TrackingService) -> None:
    run = service.create_run("0", "alice", 123, [Tag("x", "y")], "my-run")
    info = run.info
    assert (info.run_name, info.user_id, info.status, info.start_time) == (
        "my-run",
        "alice",
        "RUNNING",
        123,
    )
    assert info.artifact_uri.endswith(f"/0/{info.run_id}/artifacts")
    assert run.data.tags == {"x": "y", "mlflow.runName": "my-run"}


def test_run_gets_a_generated_name(service: TrackingService) -> None:
    name = service.get_run(_run(service)).info.run_name
    assert len(name.split("-")) == 3


def test_update_run(service: TrackingService) -> None:
    run_id = _run(service)
    info = service.update_run_info(run_id, "FINISHED", 999, "renamed")
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", 999, "renamed")
    assert service.get_run(run_id).data.tags["mlflow.runName"] == "renamed"
    assert info == service.get_run_info(run_id)  # what an update returns is what is stored
    again = service.update_run_info(run_id, status="KILLED")
    assert again == service.get_run_info(run_id)
    assert (again.status, again.end_time, again.run_name) == ("KILLED", 999, "renamed")
    with pytest.raises(InvalidParameter):
        service.update_run_info(run_id, "DONE")


def test_missing_run(service: TrackingService) -> None:
    with pytest.raises(RunNotFound):
        service.get_run("0123456789abcdef0123456789abcdef")
    with pytest.raises(InvalidParameter):
        service.get_run("../etc/passwd")


def test_delete_restore_run(service: TrackingService) -> None:
    run_id = _run(service)
    service.delete_run(run_id)
    assert service.get_run(run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(InactiveResource):
        service.log_batch(run_id, params=[Param("a", "1")])
    service.restore_run(run_id)
    service.log_batch(run_id, params=[Param("a", "1")])
    assert service.get_run(run_id).data.params == {"a": "1"}


def test_points_alone_need_an_active_run(service: TrackingService) -> None:
    """A batch of points only (one statement in autocommit on PostgreSQL) checks the run as
    every write does, and stores nothing when it is missing or deleted."""
    run_id = _run(service)
    service.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])
    service.delete_run(run_id)
    with pytest.raises(InactiveResource, match="Current state is deleted"):
        service.log_batch(run_id, metrics=[Metric("m", 2.0, 2, 1)])
    with pytest.raises(RunNotFound, match="not found"):
        service.log_batch("0123456789abcdef0123456789abcdef", metrics=[Metric("m", 2.0, 2, 1)])
    service.restore_run(run_id)
    assert [m.value for m in service.get_metric_history(run_id, "m").items] == [1.0]
    assert [m.value for m in service.get_run(run_id).data.metrics] == [1.0]


def test_nested_run_parent_tag(service: TrackingService) -> None:
    parent = _run(service)
    child = service.create_run("0", "u", 2, [Tag("mlflow.parentRunId", parent)]).info.run_id
    found = service.search_runs(["0"], f"tags.mlflow.parentRunId = '{parent}'")
    assert [r.info.run_id for r in found.items] == [child]


# -- params, metrics, tags ------------------------------------------------------------------------
def test_params_are_immutable(service: TrackingService) -> None:
    run_id = _run(service)
    service.log_batch(run_id, params=[Param("lr", "0.1")])
    service.log_batch(run_id, params=[Param("lr", "0.1")])  # same value again is fine
    with pytest.raises(ImmutableParam, match="lr"):
        service.log_batch(run_id, params=[Param("lr", "0.2")])
    assert service.get_run(run_id).data.params == {"lr": "0.1"}


def test_metric_history_and_latest(service: TrackingService) -> None:
    run_id = _run(service)
    points = [Metric("loss", 1.0 / (s + 1), 100 + s, s) for s in range(10)]
    points.append(Metric("loss", 5.0, 50, 3))  # old step: history only
    service.log_batch(run_id, metrics=points)
    history = service.get_metric_history(run_id, "loss").items
    assert len(history) == 11
    assert [m.timestamp for m in history] == sorted(m.timestamp for m in history)
    latest = {m.key: m for m in service.get_run(run_id).data.metrics}
    assert latest["loss"].step == 9 and latest["loss"].value == pytest.approx(0.1)


def test_latest_metric_ties_go_to_latest_timestamp(service: TrackingService) -> None:
    run_id = _run(service)
    service.log_batch(run_id, metrics=[Metric("m", 1.0, 10, 5), Metric("m", 2.0, 20, 5)])
    service.log_batch(run_id, metrics=[Metric("m", 3.0, 15, 5)])
    assert service.get_run(run_id).data.metrics[0].value == 2.0


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize(
    ("values", "latest"),
    [
        ([2.0, 1.0], 2.0),
        ([1.0, 2.0], 2.0),
        ([1.0, math.nan], 1.0),  # a NaN counts as its stored 0.0
        ([-1.0, math.nan], math.nan),
        ([math.nan, 0.0], math.nan),  # of equals the first stays
        ([0.0, math.nan], 0.0),
        ([math.inf, 5.0], math.inf),
    ],
)
def test_at_the_same_step_and_timestamp_the_larger_value_is_the_latest(
    service: TrackingService, values: list[float], latest: float, batched: bool
) -> None:
    """MLflow's rule, checked against its 3.17 server: (step, timestamp, value), largest wins."""
    run_id = _run(service)
    points = [Metric("m", v, 7, 3) for v in values]
    if batched:
        service.log_batch(run_id, metrics=points)
    else:
        for point in points:
            service.log_batch(run_id, metrics=[point])
    got = service.get_run(run_id).data.metrics[0].value
    assert str(got) == str(latest)


def test_metric_history_paging(service: TrackingService) -> None:
    run_id = _run(service)
    service.log_batch(run_id, metrics=[Metric("m", float(i), i, i) for i in range(25)])
    page = service.get_metric_history(run_id, "m", max_results=10)
    assert [m.step for m in page.items] == list(range(10))
    rest = service.get_metric_history(run_id, "m", max_results=20, page_token=page.next_page_token)
    assert [m.step for m in rest.items] == list(range(10, 25)) and rest.next_page_token is None


def test_history_pages_follow_the_last_point_not_an_offset(service: TrackingService) -> None:
    """A page token carries the last point's (timestamp, step, value): ties on timestamp and
    step, NaN and infinities page in order, and points logged between two pages before the
    cursor neither repeat a point nor skip one (an offset would shift by the new points)."""
    run_id = _run(service)
    points = [Metric("m", float(v), 7, 1) for v in (3, 1, 2)]
    points += [Metric("m", math.nan, 8, 0), Metric("m", -math.inf, 8, 1), Metric("m", 0.5, 9, 9)]
    points += [Metric("m", float(i), 10 + i, i) for i in range(6)]
    service.log_batch(run_id, metrics=points)
    first = service.get_metric_history(run_id, "m", max_results=4)
    assert [(m.timestamp, m.step, m.value) for m in first.items[:3]] == [
        (7, 1, 1.0),
        (7, 1, 2.0),
        (7, 1, 3.0),
    ]
    service.log_batch(run_id, metrics=[Metric("m", 9.0, 1, 0), Metric("m", 9.0, 8, 0)])
    seen = list(first.items)
    token = first.next_page_token
    pages = 1
    while token:
        page = service.get_metric_history(run_id, "m", max_results=4, page_token=token)
        json_page = service.get_metric_history_json(run_id, "m", max_results=4, page_token=token)
        assert json_page.items == [wire.metric_to_json(m) for m in page.items]
        assert json_page.next_page_token == page.next_page_token
        seen += page.items
        token = page.next_page_token
        pages += 1
    keys = [(m.timestamp, m.step) for m in seen]
    assert keys == sorted(keys) and len(seen) == len(points) + 1 == 13 and pages == 4
    assert (1, 0) not in keys  # logged before the cursor after the first page: not returned
    assert math.isnan(seen[3].value) and seen[4].value == 9.0 and seen[5].value == -math.inf


def test_a_nan_and_a_zero_at_one_step_are_both_paged(service: TrackingService) -> None:
    """A NaN is stored as 0.0 with its flag: at the same timestamp and step it ties with a real
    0.0 on (timestamp, step, value), so the cursor carries the flag too; a page boundary
    between the two returns both."""
    run_id = _run(service)
    service.log_batch(run_id, metrics=[Metric("m", 0.0, 5, 1), Metric("m", math.nan, 5, 1)])
    first = service.get_metric_history(run_id, "m", max_results=1)
    rest = service.get_metric_history(run_id, "m", max_results=1, page_token=first.next_page_token)
    values = [m.value for m in first.items + rest.items]
    assert len(values) == 2 and values[0] == 0.0 and math.isnan(values[1])


def test_an_mlflow_offset_token_still_pages_the_history(service: TrackingService) -> None:
    run_id = _run(service)
    service.log_batch(run_id, metrics=[Metric("m", float(i), i, i) for i in range(10)])
    page = service.get_metric_history(run_id, "m", max_results=3, page_token=encode_page_token(4))
    assert [m.step for m in page.items] == [4, 5, 6]


def test_nan_and_inf_metrics(service: TrackingService) -> None:
    run_id = _run(service)
    service.log_batch(
        run_id,
        metrics=[
            Metric("nan", math.nan, 1, 0),
            Metric("inf", math.inf, 1, 0),
            Metric("ninf", -math.inf, 1, 0),
        ],
    )
    latest = {m.key: m.value for m in service.get_run(run_id).data.metrics}
    assert math.isnan(latest["nan"])
    assert latest["inf"] == math.inf and latest["ninf"] == -math.inf
    assert math.isnan(service.get_metric_history(run_id, "nan").items[0].value)


def test_identical_points_are_stored_once(service: TrackingService) -> None:
    run_id = _run(service)
    batch = [Metric("m", 1.0, 5, 1)]
    service.log_batch(run_id, metrics=batch)
    service.log_batch(run_id, metrics=batch)
    assert len(service.get_metric_history(run_id, "m").items) == 1


def test_a_retried_batch_with_new_points_stores_each_point_once(service: TrackingService) -> None:
    """PostgreSQL inserts a batch without ON CONFLICT first and retries the whole batch when a
    point was already there: the retry must still store the new points, params and tags."""
    run_id = _run(service)
    service.log_batch(run_id, metrics=[Metric("m", 1.0, 5, 1)])
    service.log_batch(
        run_id,
        metrics=[Metric("m", 1.0, 5, 1), Metric("m", 2.0, 6, 2), Metric("m", 2.0, 6, 2)],
        params=[Param("p", "1")],
        tags=[Tag("t", "v")],
    )
    assert [(m.step, m.value) for m in service.get_metric_history(run_id, "m").items] == [
        (1, 1.0),
        (2, 2.0),
    ]
    run = service.get_run(run_id)
    assert [(m.key, m.value, m.step) for m in run.data.metrics] == [("m", 2.0, 2)]
    assert run.data.params == {"p": "1"} and run.data.tags["t"] == "v"


def test_purge_waits_for_a_batch_in_flight_and_leaves_no_points(sql_store: SqlStore) -> None:
    """The metrics table has no foreign key to runs: a batch locks its run, and a purge of the
    run waits for it, then deletes every point (none is left behind without its run)."""
    run_id = sql_store.create_run("0", "u", 1).info.run_id
    sql_store.delete_run(run_id)
    sql_store.restore_run(run_id)
    locked, release, purged = threading.Event(), threading.Event(), threading.Event()
    order: list[str] = []

    def batch() -> None:
        with sql_store._write() as conn:
            points = [Metric("m", float(i), 1, i) for i in range(5)]
            assert sql_store._hot.log_batch(conn, run_id, points, {}, {}, False)[0] == "active"
            locked.set()
            release.wait(10)
            order.append("batch")

    def purge() -> None:
        sql_store.delete_run(run_id)
        sql_store.purge_runs([run_id])
        order.append("purged")
        purged.set()

    writer = threading.Thread(target=batch)
    writer.start()
    assert locked.wait(10)
    purger = threading.Thread(target=purge)
    purger.start()
    assert not purged.wait(0.5)  # blocked behind the batch's lock
    release.set()
    writer.join(10)
    purger.join(10)
    assert order == ["batch", "purged"]
    from sqlalchemy import func, select

    from shipyard.store.sql._schema import metrics

    left = select(func.count()).select_from(metrics).where(metrics.c.run_uuid == run_id)
    with sql_store.engine.connect() as conn:
        assert conn.scalar(left) == 0
    with pytest.raises(RunNotFound):
        sql_store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 99)])


def test_tags_overwrite_and_delete(service: TrackingService) -> None:
    run_id = _run(service)
    service.log_batch(run_id, tags=[Tag("t", "1")])
    service.log_batch(run_id, tags=[Tag("t", "2")])
    assert service.get_run(run_id).data.tags["t"] == "2"
    service.delete_tag(run_id, "t")
    assert "t" not in service.get_run(run_id).data.tags
    with pytest.raises(NotFound, match="No tag with name: t"):  # 404, as MLflow's server
        service.delete_tag(run_id, "t")


def test_batch_is_atomic(service: TrackingService) -> None:
    run_id = _run(service)
    service.log_batch(run_id, params=[Param("p", "1")])
    with pytest.raises(ImmutableParam):
        service.log_batch(
            run_id,
            metrics=[Metric("m", 1.0, 1, 0)],
            params=[Param("p", "2")],
            tags=[Tag("t", "v")],
        )
    run = service.get_run(run_id)
    assert run.data.metrics == [] and "t" not in run.data.tags


def test_limits(service: TrackingService) -> None:
    run_id = _run(service)
    with pytest.raises(InvalidParameter, match="1000 metrics"):
        service.log_batch(run_id, metrics=[Metric("m", 1.0, 1, i) for i in range(1001)])
    with pytest.raises(InvalidParameter, match="250"):
        service.log_batch(run_id, params=[Param("k" * 251, "v")])
    with pytest.raises(InvalidParameter, match="Names cannot contain"):
        service.log_batch(run_id, params=[Param("a/../b", "v")])
    service.log_batch(run_id, params=[Param("long", "x" * 7000)], tags=[Tag("t", "y" * 9000)])
    run = service.get_run(run_id)
    assert len(run.data.params["long"]) == 6000 and len(run.data.tags["t"]) == 8000


@pytest.mark.parametrize("key", [".", "..", "...", "..a", "../x", "x/..", "./x", "/x", "a//b"])
def test_names_that_resolve_to_other_paths_are_refused(service: TrackingService, key: str) -> None:
    """MLflow's rule: a name must be its own normal path and must not climb out of it."""
    run_id = _run(service)
    for batch in (
        {"metrics": [Metric(key, 1.0, 1, 0)]},
        {"params": [Param(key, "v")]},
        {"tags": [Tag(key, "v")]},
    ):
        with pytest.raises(InvalidParameter, match=r"Invalid (metric|param|tag) name"):
            service.log_batch(run_id, **batch)  # type: ignore[arg-type]
    service.log_batch(run_id, metrics=[Metric("a..b", 1.0, 1, 0)], params=[Param(".a", "v")])
    assert service.get_run(run_id).data.params == {".a": "v"}


def test_a_negative_timestamp_is_refused_and_nothing_of_its_batch_is_stored(
    service: TrackingService,
) -> None:
    run_id = _run(service)
    for points in ([Metric("m", 1.0, -1, 0)], [Metric("m", 1.0, 5, 0), Metric("m", 2.0, -5, 1)]):
        with pytest.raises(InvalidParameter, match=r"timestamp -[15]; timestamps must not be neg"):
            service.log_batch(run_id, metrics=points, params=[Param("p", "1")])
    run = service.get_run(run_id)
    assert run.data.metrics == [] and run.data.params == {}
    service.log_batch(run_id, metrics=[Metric("m", 1.0, 0, -3)])  # a negative step is fine
    assert [(m.step, m.timestamp) for m in service.get_run(run_id).data.metrics] == [(-3, 0)]


def test_a_param_key_twice_in_a_batch_is_refused_even_with_one_value(
    service: TrackingService,
) -> None:
    run_id = _run(service)
    for values in (("1", "1"), ("1", "2")):
        with pytest.raises(InvalidParameter, match=r"Duplicate parameter keys .*\['a'\]"):
            service.log_batch(run_id, params=[Param("a", values[0]), Param("a", values[1])])
    assert service.get_run(run_id).data.params == {}


def test_an_empty_batch_needs_a_run_but_not_an_active_one(service: TrackingService) -> None:
    with pytest.raises(RunNotFound):
        service.log_batch("f" * 32)
    run_id = _run(service)
    service.delete_run(run_id)
    service.log_batch(run_id)  # nothing to write: no error for the deleted run, as on MLflow's


@pytest.mark.parametrize("offset", [3 * 10**9, 10**20])
def test_a_page_token_past_any_page_is_an_empty_page(service: TrackingService, offset: int) -> None:
    """A forged offset past 2^31 reads as an empty page, as on MLflow's server, not a driver
    overflow (a 500 on SQLite, PostgreSQL's "integer out of range")."""
    _run(service)
    token = base64.b64encode(json.dumps({"offset": offset}).encode()).decode()
    assert service.search_runs(["0"], page_token=token).items == []
    assert service.search_experiments(page_token=token).items == []


def test_a_missing_runs_history_is_empty_and_pages_have_no_upper_bound(
    service: TrackingService,
) -> None:
    assert service.get_metric_history("f" * 32, "m").items == []  # as MLflow's server answers
    run_id = _run(service)
    service.log_batch(run_id, metrics=[Metric("m", float(i), i, i) for i in range(3)])
    page = service.get_metric_history(run_id, "m", max_results=10**9)
    assert [m.step for m in page.items] == [0, 1, 2] and page.next_page_token is None
    with pytest.raises(InvalidParameter, match="max_results"):
        service.get_metric_history(run_id, "m", max_results=0)


def test_dataset_inputs(service: TrackingService) -> None:
    run_id = _run(service)
    ds = Dataset("wine", "abc123", "code", "{}", '{"mlflow_colspec": []}', '{"num_rows": 3}')
    service.log_inputs(run_id, [DatasetInput(ds, (Tag("mlflow.data.context", "train"),))])
    service.log_inputs(run_id, [DatasetInput(ds, (Tag("mlflow.data.context", "train"),))])
    run = service.get_run(run_id)
    assert len(run.inputs) == 1 and run.inputs[0].dataset == ds
    assert run.inputs[0].tags == (Tag("mlflow.data.context", "train"),)
    assert [r.info.run_id for r in service.search_runs(["0"], "datasets.name = 'wine'").items] == [
        run_id
    ]
    assert service.search_runs(["0"], "datasets.context = 'eval'").items == []
    # logged again in another context: the run keeps the first, as on MLflow's server
    service.log_inputs(run_id, [DatasetInput(ds, (Tag("mlflow.data.context", "eval"),))])
    assert service.get_run(run_id).inputs[0].tags == (Tag("mlflow.data.context", "train"),)
    assert service.search_runs(["0"], "datasets.context = 'eval'").items == []


def test_dataset_inputs_come_back_in_the_order_the_run_logged_them(
    service: TrackingService,
) -> None:
    """As on MLflow's server: across requests, within one request, not in the datasets' id
    order; a dataset logged again keeps its first place. The same order from ``get_run``, a
    search, and the wire search before and after it keeps the finished runs' bodies."""
    exp_id = service.create_experiment("ordered")

    def logged(name: str) -> DatasetInput:
        return DatasetInput(Dataset(name, "d", "code", "{}", None, None), ())

    x, y, z = logged("x"), logged("y"), logged("z")
    a, b, c = (_run(service, exp_id, name, start) for name, start in (("a", 3), ("b", 2), ("c", 1)))
    service.log_inputs(a, [x])  # x and y get their ids here: x's is the smaller
    service.log_inputs(a, [y])
    service.log_inputs(b, [y])
    service.log_inputs(b, [x])
    service.log_inputs(b, [y])  # again: stays first
    service.log_inputs(c, [z, y, x])  # one request
    service.log_inputs(c, [x, logged("w")])
    expected = [["x", "y"], ["y", "x"], ["z", "y", "x", "w"]]

    def names(inputs: list[DatasetInput]) -> list[str]:
        return [i.dataset.name for i in inputs]

    assert [names(service.get_run(r).inputs) for r in (a, b, c)] == expected
    assert [names(r.inputs) for r in service.search_runs([exp_id]).items] == expected
    for r in (a, b, c):
        service.update_run_info(r, "FINISHED", 9)
    for _ in range(2):  # read from the tables (and kept), then from the kept bodies
        found = orjson.loads(orjson.dumps(service.search_runs_json(RunQuery([exp_id])).items))
        wire_names = [[i["dataset"]["name"] for i in r["inputs"]["dataset_inputs"]] for r in found]
        assert wire_names == expected


def test_two_requests_logging_inputs_to_one_run_take_turns(
    sql_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that logs [p, q] holds its run between the two; another that logs [r] waits,
    then comes after both (unlocked, PostgreSQL numbered r with p: p, r, q)."""
    from shipyard.store.sql import _writes

    run_id = sql_store.create_run("0", "u", 1).info.run_id
    linked, release, done = threading.Event(), threading.Event(), threading.Event()
    link = _writes.link_dataset

    def pausing_link(conn: Connection, experiment_id: int, run: str, item: DatasetInput) -> None:
        link(conn, experiment_id, run, item)
        if item.dataset.name == "p":
            linked.set()
            release.wait(10)

    monkeypatch.setattr(_writes, "link_dataset", pausing_link)

    def log(*names: str) -> None:
        sql_store.log_inputs(
            run_id, [DatasetInput(Dataset(n, "d", "code", "{}", None, None), ()) for n in names]
        )

    first = threading.Thread(target=log, args=("p", "q"))
    first.start()
    assert linked.wait(10)
    second = threading.Thread(target=lambda: (log("r"), done.set()))
    second.start()
    assert not done.wait(0.5)  # waits for the first request's run
    release.set()
    first.join(10)
    second.join(10)
    assert [i.dataset.name for i in sql_store.get_run(run_id).inputs] == ["p", "q", "r"]


def test_model_outputs(service: TrackingService) -> None:
    run_id = _run(service)
    service.log_outputs(run_id, [("m-abc", 3)])
    assert service.get_run(run_id).model_outputs == [("m-abc", 3)]


def test_required_tags_block_finishing(service: TrackingService) -> None:
    exp_id = service.create_experiment(
        "audited", tags=[Tag(REQUIRED_TAGS_KEY, "owner,data_version")]
    )
    run_id = _run(service, exp_id)
    assert service.store.get_run_experiment_tags(run_id) == {
        REQUIRED_TAGS_KEY: "owner,data_version"
    }
    assert service.store.get_run_experiment_tags(_run(service)) == {}
    with pytest.raises(RunNotFound):
        service.store.get_run_experiment_tags("0123456789abcdef0123456789abcdef")
    service.log_batch(run_id, tags=[Tag("owner", "me")])
    with pytest.raises(MissingRequiredTags) as err:
        service.update_run_info(run_id, "FINISHED", 10)
    assert err.value.missing == ["data_version"]
    assert service.get_run(run_id).info.status == "RUNNING"
    service.update_run_info(run_id, "FAILED", 10)  # failing is always allowed
    service.log_batch(run_id, tags=[Tag("data_version", "v3")])
    assert service.update_run_info(run_id, "FINISHED", 11).status == "FINISHED"


@pytest.mark.parametrize("rename", [None, "renamed"], ids=["hot", "rename"])
def test_update_unless_the_experiment_has_a_tag(sql_store: SqlStore, rename: str | None) -> None:
    """The guarded update changes nothing when the run's experiment has the tag, and is a plain
    update otherwise; both paths (the hot statement and the rename's transaction)."""
    tagged = sql_store.create_experiment("tagged", tags=[Tag("policy", "x"), Tag("other", "y")])
    plain = sql_store.create_experiment("plain", tags=[Tag("other", "y")])
    blocked = sql_store.create_run(tagged, "u", 1, run_name="a").info.run_id
    free = sql_store.create_run(plain, "u", 1, run_name="b").info.run_id

    assert sql_store.update_run_info_unless("policy", blocked, "FINISHED", 9, rename) is None
    info = sql_store.get_run_info(blocked)
    assert (info.status, info.end_time, info.run_name) == ("RUNNING", None, "a")

    got = sql_store.update_run_info_unless("policy", free, "FINISHED", 9, rename)
    assert got is not None and (got.status, got.end_time) == ("FINISHED", 9)
    info = sql_store.get_run_info(free)
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", 9, rename or "b")

    with pytest.raises(RunNotFound):
        sql_store.update_run_info_unless("policy", "0123456789abcdef0123456789abcdef", "FAILED")
    sql_store.delete_run(blocked)
    with pytest.raises(InactiveResource):
        sql_store.update_run_info_unless("policy", blocked, "FAILED", 9, rename)


def test_finishing_without_a_policy_reads_no_experiment_tags(
    service: TrackingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _run(service)
    reads: list[str] = []
    original = service.store.get_run_experiment_tags
    monkeypatch.setattr(
        service.store, "get_run_experiment_tags", lambda r: reads.append(r) or original(r)
    )
    assert service.update_run_info(run_id, "FINISHED", 10).status == "FINISHED"
    assert reads == []


# -- search ---------------------------------------------------------------------------------------
@pytest.fixture
def populated(service: TrackingService) -> dict[str, str]:
    ids = {}
    for i, (model, acc) in enumerate([("rf", 0.9), ("rf", 0.7), ("lr", 0.8), ("lr", None)]):
        run_id = _run(service, name=f"run-{i}", start=10 + i)
        metrics = [Metric("acc", acc, 1, 0)] if acc is not None else []
        service.log_batch(
            run_id, metrics, [Param("model", model)], [Tag("Team", "ML" if i % 2 else "ml")]
        )
        ids[f"run-{i}"] = run_id
    return ids


def _names(
    service: TrackingService, filt: str | None = None, order: list[str] | None = None
) -> list[str]:
    page = service.search_runs(["0"], filt, order_by=order or [])
    return [r.info.run_name for r in page.items]


def test_search_default_order_is_newest_first(
    service: TrackingService, populated: dict[str, str]
) -> None:
    assert _names(service) == ["run-3", "run-2", "run-1", "run-0"]


@pytest.mark.parametrize(
    ("filt", "expected"),
    [
        ("metrics.acc > 0.75", {"run-0", "run-2"}),
        ("metrics.acc <= 0.8 AND params.model = 'rf'", {"run-1"}),
        ("params.model != 'rf'", {"run-2", "run-3"}),
        ("tags.Team LIKE 'm%'", {"run-0", "run-2"}),
        ("tags.Team ILIKE 'm%'", {"run-0", "run-1", "run-2", "run-3"}),
        ("tags.missing IS NULL", {"run-0", "run-1", "run-2", "run-3"}),
        ("params.model IS NOT NULL and metrics.acc >= 0.9", {"run-0"}),
        ("attributes.run_name = 'run-2'", {"run-2"}),
        ("run_name LIKE 'run-_'", {"run-0", "run-1", "run-2", "run-3"}),
        ("attributes.start_time > 11", {"run-2", "run-3"}),
        ("attributes.status = 'RUNNING'", {"run-0", "run-1", "run-2", "run-3"}),
        ("metrics.`acc` < 0.75", {"run-1"}),
        ("tags.\"Team\" = 'ML'", {"run-1", "run-3"}),
    ],
)
def test_search_filters(
    service: TrackingService, populated: dict[str, str], filt: str, expected: set[str]
) -> None:
    assert set(_names(service, filt)) == expected


def test_a_backslash_in_like_is_a_plain_character_on_both_backends(
    service: TrackingService,
) -> None:
    """SQLite's LIKE has no escape character and MLflow's server (on SQLite) matches so;
    PostgreSQL's default would read ``\\_`` as a literal underscore."""
    plain = _run(service, name="Alpha_2")
    slashed = _run(service, name="Alpha\\x2")
    service.log_batch(slashed, tags=[Tag("t", "a\\b")])
    # "Alpha", a backslash, any one character, "2": the slashed name, not "Alpha_2"
    assert _names(service, r"attributes.run_name LIKE 'Alpha\_2'") == ["Alpha\\x2"]
    assert _names(service, r"attributes.run_name LIKE 'Alpha\%'") == ["Alpha\\x2"]
    assert _names(service, r"attributes.run_name ILIKE 'alpha\_2'") == ["Alpha\\x2"]
    assert _names(service, r"tags.t LIKE 'a\b'") == ["Alpha\\x2"]
    assert _names(service, r"tags.t ILIKE 'A\B'") == ["Alpha\\x2"]
    assert _names(service, "attributes.run_name LIKE 'Alpha_2'") == ["Alpha_2"]
    assert service.get_run(plain).info.run_name == "Alpha_2"


@pytest.fixture
def odd_values(service: TrackingService) -> None:
    """Runs whose latest ``m`` is NaN, 1, -1, 0, +inf, -inf, and one without ``m``."""
    values = {"nan": math.nan, "one": 1.0, "none": None, "neg": -1.0, "zero": 0.0}
    values |= {"inf": math.inf, "ninf": -math.inf}
    for i, (name, value) in enumerate(values.items()):
        run_id = _run(service, name=name, start=10 + i)
        if value is not None:
            service.log_batch(run_id, metrics=[Metric("m", value, 5, 0)])


# What MLflow 3.17.2's server answers for the same runs (checked against it): a NaN is unequal
# to every value and passes no other comparison.
@pytest.mark.parametrize(
    ("filt", "expected"),
    [
        ("metrics.m = 0", {"zero"}),
        ("metrics.m != 0", {"nan", "one", "neg", "inf", "ninf"}),
        ("metrics.m != 1", {"nan", "neg", "zero", "inf", "ninf"}),
        ("metrics.m < 1", {"neg", "zero", "ninf"}),
        ("metrics.m >= 0", {"one", "zero", "inf"}),
        ("metrics.m > -5", {"one", "neg", "zero", "inf"}),
    ],
)
def test_search_compares_nan_as_mlflow_does(
    service: TrackingService, odd_values: None, filt: str, expected: set[str]
) -> None:
    assert set(_names(service, filt)) == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("ASC", ["ninf", "neg", "zero", "one", "inf", "nan", "none"]),
        ("DESC", ["inf", "one", "zero", "neg", "ninf", "nan", "none"]),
    ],
)
@pytest.mark.parametrize("page_size", [2, 1000])
def test_search_orders_nan_after_values_and_before_missing(
    service: TrackingService, odd_values: None, order: str, expected: list[str], page_size: int
) -> None:
    """In pages too: the values' phase, then the NaNs, then the runs without the metric."""
    for filt, wanted in (
        (None, expected),
        ("metrics.m != 1", [n for n in expected if n not in ("one", "none")]),
    ):
        names: list[str] = []
        token = None
        while True:
            page = service.search_runs(
                ["0"],
                filt,
                max_results=page_size,
                order_by=[f"metrics.m {order}"],
                page_token=token,
            )
            names += [r.info.run_name for r in page.items]
            token = page.next_page_token
            if not token:
                break
        assert names == wanted


def test_search_in_run_ids(service: TrackingService, populated: dict[str, str]) -> None:
    a, b = populated["run-0"], populated["run-3"]
    assert set(_names(service, f"attributes.run_id IN ('{a}', '{b}')")) == {"run-0", "run-3"}
    assert set(_names(service, f"attributes.run_id NOT IN ('{a}')")) == {"run-1", "run-2", "run-3"}


def test_search_order_by_metric_missing_last(
    service: TrackingService, populated: dict[str, str]
) -> None:
    assert _names(service, order=["metrics.acc DESC"]) == ["run-0", "run-2", "run-1", "run-3"]
    assert _names(service, order=["metrics.acc ASC"]) == ["run-1", "run-2", "run-0", "run-3"]
    assert _names(service, order=["params.model", "attributes.start_time ASC"]) == [
        "run-2",
        "run-3",
        "run-0",
        "run-1",
    ]


def test_search_paging_visits_every_run_once(service: TrackingService) -> None:
    made = {_run(service, start=i) for i in range(23)}
    seen: list[str] = []
    token = None
    while True:
        page = service.search_runs(["0"], max_results=5, page_token=token)
        seen += [r.info.run_id for r in page.items]
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == 23 and set(seen) == made


def test_search_view_types(service: TrackingService, populated: dict[str, str]) -> None:
    service.delete_run(populated["run-1"])
    assert "run-1" not in _names(service)
    deleted = service.search_runs(["0"], view_type=ViewType.DELETED_ONLY).items
    assert [r.info.run_name for r in deleted] == ["run-1"]
    assert len(service.search_runs(["0"], view_type=ViewType.ALL).items) == 4


def test_search_bad_filter_names_token(service: TrackingService) -> None:
    with pytest.raises(InvalidFilter, match=r"OR|or"):
        service.search_runs(["0"], "metrics.a > 1 OR metrics.b > 2")
    with pytest.raises(InvalidParameter):
        service.search_runs(["0"], page_token="not-a-token")
    with pytest.raises(InvalidParameter):
        service.search_runs(["0"], max_results=50001)


def test_a_repeated_search_is_built_once_and_a_bad_filter_fails_every_time(
    service: TrackingService,
) -> None:
    """The parsed, built queries of a search are kept (a UI polls the same search); the
    values of the filter are part of the key, and errors are not kept."""
    from shipyard.store.sql import _search

    first = _search.run_query([0], "params.p = 'a'", ViewType.ACTIVE_ONLY, ["metrics.m DESC"])
    again = _search.run_query([0], "params.p = 'a'", ViewType.ACTIVE_ONLY, ["metrics.m DESC"])
    other = _search.run_query([0], "params.p = 'b'", ViewType.ACTIVE_ONLY, ["metrics.m DESC"])
    assert all(a is b for a, b in zip(first, again, strict=True))
    assert not any(a is b for a, b in zip(first, other, strict=False))
    run_id = _run(service)
    service.log_batch(run_id, params=[Param("p", "b")])
    assert _names(service, "params.p = 'a'") == [] and len(_names(service, "params.p = 'b'")) == 1
    for _ in range(2):
        with pytest.raises(InvalidFilter):
            service.search_runs(["0"], "params.p = ")


def test_search_runs_is_sql_not_python(sql_store: SqlStore) -> None:
    """The search statements carry the filter and ordering; nothing is filtered afterwards."""
    from shipyard.store.sql._search import run_query

    phases = run_query(
        [0], "metrics.acc > 0.5 AND params.m = 'x'", ViewType.ACTIVE_ONLY, ["metrics.acc DESC"]
    )
    for phase in phases:
        sql = str(phase.compile())
        assert "latest_metrics" in sql and "params" in sql and "ORDER BY" in sql


@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 7])
def test_metric_ordering_pages_across_runs_with_and_without_it(
    service: TrackingService, page_size: int
) -> None:
    """Runs with the metric come first in order, then those whose latest value is NaN, then
    those without it (MLflow's order), on every page."""
    expected_with = []
    for i, acc in enumerate([0.3, None, 0.9, math.nan, 0.5, None, 0.7]):
        run_id = _run(service, name=f"r{i}", start=100 + i)
        if acc is not None:
            service.log_batch(run_id, metrics=[Metric("acc", acc, 1, 0)])
            if not math.isnan(acc):
                expected_with.append((acc, f"r{i}"))
    seen: list[str] = []
    token = None
    while True:
        page = service.search_runs(
            ["0"], order_by=["metrics.acc DESC"], max_results=page_size, page_token=token
        )
        seen += [r.info.run_name for r in page.items]
        token = page.next_page_token
        if not token:
            break
    ordered = [name for _, name in sorted(expected_with, reverse=True)]
    assert seen[: len(ordered)] == ordered
    # the NaN, then the runs without the metric, newest first
    assert seen[len(ordered) :] == ["r3", "r5", "r1"]


@pytest.mark.parametrize(
    ("op", "bound"), [(">", 0.5), (">=", 0.5), ("<", 0.7), ("<=", 0.7), ("=", 0.5), ("!=", 0.5)]
)
def test_a_filter_on_the_ordering_metric(service: TrackingService, op: str, bound: float) -> None:
    """The filter on the metric the search orders by is applied to the ordering join itself
    (one phase, no second lookup): same runs as the comparison says, in order, across pages;
    runs without the metric never match, and a NaN matches ``!=`` only (after the values)."""
    values = [0.3, None, 0.9, math.nan, 0.5, None, 0.7, 0.5]
    compare = {
        ">": lambda v: v > bound,
        ">=": lambda v: v >= bound,
        "<": lambda v: v < bound,
        "<=": lambda v: v <= bound,
        "=": lambda v: v == bound,
        "!=": lambda v: v != bound,
    }[op]
    expected = []
    for i, acc in enumerate(values):
        run_id = _run(service, name=f"r{i}", start=100 + i)
        if acc is not None:
            service.log_batch(run_id, metrics=[Metric("acc", acc, 1, 0), Metric("b", 1.0, 1, 0)])
            if not math.isnan(acc) and compare(acc):
                expected.append((-acc, -(100 + i), f"r{i}"))  # value DESC, then newest first
    seen: list[str] = []
    token = None
    while True:
        page = service.search_runs(
            ["0"],
            f"metrics.acc {op} {bound} AND metrics.b = 1",
            max_results=2,
            order_by=["metrics.acc DESC"],
            page_token=token,
        )
        seen += [r.info.run_name for r in page.items]
        token = page.next_page_token
        if not token:
            break
    nans = ["r3"] if op == "!=" else []
    assert seen == [name for *_, name in sorted(expected)] + nans


def test_postgres_searches_are_planned_for_their_values(postgres_uri: str, tmp_path: Path) -> None:
    """A search runs unprepared on PostgreSQL (psycopg would prepare it after five runs and the
    server would then use a generic plan); the connection goes back to the pool as it was."""
    store = SqlStore(postgres_uri, str(tmp_path))
    service = TrackingService(store)
    for i, acc in enumerate([0.2, 0.9, 0.5]):
        service.log_batch(_run(service, name=f"r{i}"), metrics=[Metric("acc", acc, 1, 0)])
    prepared: list[str] = []
    for _ in range(12):
        page = service.search_runs(["0"], "metrics.acc > 0.3", order_by=["metrics.acc DESC"])
        assert [r.info.run_name for r in page.items] == ["r1", "r2"]
    with store.engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None and driver.prepare_threshold == 5  # psycopg's default
        rows = conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").all()
        prepared = [r[0] for r in rows]
    assert not any("order_0" in text for text in prepared)  # the search was never prepared
    store.engine.dispose()


def test_sqlite_driver_errors_surface_as_sqlalchemy_errors(tmp_path: Path) -> None:
    """The SQLite hot path calls ``sqlite3`` directly; its errors still arrive as SQLAlchemy's
    (the server answers ``OperationalError`` with 503, a bare ``sqlite3`` error would be 500)."""
    from sqlalchemy.exc import OperationalError

    store = SqlStore(f"sqlite:///{tmp_path / 'broken.db'}", str(tmp_path))
    run_id = store.create_run("0", "u", 1).info.run_id
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE latest_metrics")
    with pytest.raises(OperationalError, match="latest_metrics"):
        store.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])
    assert store.get_metric_history(run_id, "m").items == []  # the batch rolled back whole


# -- concurrency ----------------------------------------------------------------------------------
def test_eight_threads_lose_no_point(service: TrackingService) -> None:
    run_id = _run(service)

    def work(t: int) -> None:
        for b in range(5):
            service.log_batch(
                run_id, metrics=[Metric(f"m{t}", float(i), b, b * 100 + i) for i in range(100)]
            )

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in range(8):
        assert len(service.get_metric_history(run_id, f"m{t}").items) == 500


def test_concurrent_create_same_experiment(service: TrackingService) -> None:
    results: list[str] = []

    def create() -> None:
        try:
            service.create_experiment("race")
            results.append("ok")
        except AlreadyExists:
            results.append("exists")

    threads = [threading.Thread(target=create) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == ["exists", "ok"]


def test_run_status_values() -> None:
    assert RunStatus("KILLED").is_terminal and not RunStatus("RUNNING").is_terminal


def test_runs_json_matches_the_entities(service: TrackingService) -> None:
    """The server's wire-form read path gives exactly what encoding the entities gives."""
    exp_id = service.create_experiment("wire-form")
    full, bare = _run(service, exp_id, "full"), _run(service, exp_id, "bare", start=2)
    points = [
        Metric("nan", math.nan, 5, 0),
        Metric("inf", math.inf, 5, 0),
        Metric("ninf", -math.inf, 5, 0),
        Metric("acc", 0.1 + 0.2, 7, 3),
        Metric("acc", 0.5, 6, 2),
    ]
    odd = 'a "quoted"\nline\\ \t é 🚀 \u0001'  # what JSON must escape, and more
    pairs = [Param("p", "1"), Param("odd", odd)], [Tag("t", "x"), Tag("o", odd)]
    service.log_batch(full, metrics=points, params=pairs[0], tags=pairs[1])
    ds = Dataset("d", "digest", "code", "{}", None, None)
    service.log_inputs(full, [DatasetInput(ds, (Tag("mlflow.data.context", "eval"),))], ["m-in"])
    service.log_outputs(full, [("m-out", 4)])
    service.update_run_info(full, "FINISHED", 99)

    runs = service.search_runs([exp_id], order_by=["attributes.start_time"])
    json_runs = service.search_runs_json(RunQuery([exp_id], order_by=["attributes.start_time"]))
    encoded = orjson.loads(orjson.dumps(json_runs.items))  # params and tags are JSON fragments
    assert encoded == [wire.run_to_json(r) for r in runs.items]
    first = encoded[0]
    assert first["info"]["run_id"] == full and "end_time" in first["info"]
    by_key = {m["key"]: m["value"] for m in first["data"]["metrics"]}
    assert by_key == {"nan": "NaN", "inf": "Infinity", "ninf": "-Infinity", "acc": 0.1 + 0.2}
    assert first["inputs"]["model_inputs"] == [{"model_id": "m-in"}]
    assert first["outputs"] == {"model_outputs": [{"model_id": "m-out", "step": 4}]}
    assert {"key": "odd", "value": odd} in first["data"]["params"]
    assert {"key": "o", "value": odd} in first["data"]["tags"]
    assert encoded[1]["info"]["run_id"] == bare and "end_time" not in encoded[1]["info"]

    history = service.get_metric_history(full, "acc", max_results=1)
    history_json = service.get_metric_history_json(full, "acc", max_results=1)
    assert history_json.items == [wire.metric_to_json(m) for m in history.items]
    assert history_json.next_page_token == history.next_page_token is not None
    rest = service.get_metric_history_json(full, "acc", page_token=history.next_page_token)
    assert [m["value"] for m in rest.items] == [0.1 + 0.2]
