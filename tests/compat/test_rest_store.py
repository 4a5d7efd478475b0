"""RestStore (the SDK's HTTP backend) against a live server, retries, and concurrent writers."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shipyard.client._rest import RestStore
from shipyard.entities import Dataset, DatasetInput, Metric, Param, Tag, ViewType
from shipyard.errors import (
    AlreadyExists,
    ExperimentNotFound,
    InvalidParameter,
    RunNotFound,
    ShipyardError,
)
from shipyard.settings import Settings


@pytest.fixture
def store(live_server: str) -> Iterator[RestStore]:
    rest = RestStore(live_server, Settings())
    yield rest
    rest.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_experiments_over_http(store: RestStore) -> None:
    name = unique("rest")
    exp_id = store.create_experiment(name, tags=[Tag("a", "1")])
    exp = store.get_experiment(exp_id)
    assert (exp.name, exp.tags) == (name, {"a": "1"})
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert store.get_experiment_by_name(name) == exp
    assert store.get_experiment_by_name(unique("absent")) is None
    store.rename_experiment(exp_id, name + "-x")
    store.set_experiment_tag(exp_id, Tag("b", "2"))
    store.delete_experiment_tag(exp_id, "a")
    assert store.get_experiment(exp_id).tags == {"b": "2"}
    store.delete_experiment(exp_id)
    deleted = store.search_experiments(ViewType.DELETED_ONLY, filter_string=f"name = '{name}-x'")
    assert [e.experiment_id for e in deleted.items] == [exp_id]
    store.restore_experiment(exp_id)
    page = store.search_experiments(max_results=1)
    assert len(page.items) == 1 and page.next_page_token


def test_runs_over_http(store: RestStore) -> None:
    exp_id = store.create_experiment(unique("runs"))
    run = store.create_run(exp_id, "alice", 123, [Tag("t", "1")], run_name="first")
    run_id = run.info.run_id
    assert (run.info.user_id, run.info.start_time, run.info.run_name) == ("alice", 123, "first")
    points = [Metric("m", float(i), 1000 + i, i) for i in range(10)] + [Metric("n", math.nan, 1)]
    store.log_batch(run_id, points, [Param("p", "v")], [Tag("u", "2")])
    page = store.get_metric_history(run_id, "m", max_results=4)
    assert [m.step for m in page.items] == [0, 1, 2, 3] and page.next_page_token
    rest = store.get_metric_history(run_id, "m", page_token=page.next_page_token)
    assert [m.step for m in rest.items] == list(range(4, 10))
    assert math.isnan(store.get_metric_history(run_id, "n").items[0].value)
    ds = DatasetInput(Dataset("d", "dig", "local", "{}", None, None), (Tag("ctx", "train"),))
    store.log_inputs(run_id, [ds])
    store.log_outputs(run_id, [("m-1", 2)])
    store.delete_tag(run_id, "t")
    info = store.update_run_info(run_id, status="FINISHED", end_time=456)
    assert (info.status, info.end_time) == ("FINISHED", 456)
    got = store.get_run(run_id)
    assert got.data.params == {"p": "v"} and "t" not in got.data.tags
    assert got.inputs == [ds] and got.model_outputs == [("m-1", 2)]
    found = store.search_runs([exp_id], "params.p = 'v'", order_by=["metrics.m DESC"])
    assert [r.info.run_id for r in found.items] == [run_id]
    store.delete_run(run_id)
    assert store.search_runs([exp_id]).items == []
    store.restore_run(run_id)


def test_errors_come_back_as_shipyard_classes(store: RestStore) -> None:
    with pytest.raises(RunNotFound):
        store.get_run("0" * 32)
    with pytest.raises(ExperimentNotFound):
        store.get_experiment("99999")
    with pytest.raises(ExperimentNotFound):
        store.create_run("99999", "u", 0)
    name = unique("dup")
    store.create_experiment(name)
    with pytest.raises(AlreadyExists):
        store.create_experiment(name)
    run_id = store.create_run("0", "u", 0).info.run_id
    store.log_batch(run_id, params=[Param("p", "1")])
    with pytest.raises(InvalidParameter, match="Changing param values"):
        store.log_batch(run_id, params=[Param("p", "2")])
    with pytest.raises(InvalidParameter):
        store.search_runs(["0"], "metrics.m >")


# -- retries (no server needed) ---------------------------------------------------------------
def _flaky(statuses: list[int]) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        status = statuses.pop(0) if statuses else 200
        if status == 200:
            return httpx.Response(200, json={"experiment_id": "7"})
        return httpx.Response(status, json={"error_code": "TEMPORARILY_UNAVAILABLE"})

    return handle


def test_overload_answers_are_retried_with_backoff() -> None:
    slept: list[float] = []
    transport = httpx.MockTransport(_flaky([503, 429, 502, 504]))
    rest = RestStore("http://x", Settings(), transport=transport, sleep=slept.append)
    rest.log_batch("r1", metrics=[Metric("m", 1.0, 1, 0)])
    assert slept == [0.2, 0.4, 0.8, 1.6]


def test_retries_are_bounded() -> None:
    slept: list[float] = []
    transport = httpx.MockTransport(_flaky([503] * 10))
    rest = RestStore("http://x", Settings(), transport=transport, max_retries=2, sleep=slept.append)
    with pytest.raises(ShipyardError):
        rest.create_experiment("e")
    assert len(slept) == 2


def _failing_once(exc_type: type[httpx.TransportError], seen: list[str]) -> httpx.MockTransport:
    """A transport whose first request fails with ``exc_type``; later ones succeed."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path.rsplit("/", 2)[-2] + "/" + request.url.path.rsplit("/", 1)[-1])
        if len(seen) == 1:
            raise exc_type("boom", request=request)
        return httpx.Response(200, json={"experiment_id": "7"})

    return httpx.MockTransport(handle)


def test_a_create_is_not_sent_again_when_it_may_have_reached_the_server() -> None:
    """A lost answer to experiments/create: sent again it would fail with "already exists"
    for the experiment the first attempt made (runs/create would make a second run)."""
    seen: list[str] = []
    transport = _failing_once(httpx.ReadError, seen)
    rest = RestStore("http://x", Settings(), transport=transport, sleep=lambda s: None)
    with pytest.raises(ShipyardError, match="may have done it"):
        rest.create_experiment("e")
    assert seen == ["experiments/create"]


def test_a_create_is_sent_again_when_the_connection_was_never_made() -> None:
    seen: list[str] = []
    transport = _failing_once(httpx.ConnectError, seen)
    rest = RestStore("http://x", Settings(), transport=transport, sleep=lambda s: None)
    assert rest.create_experiment("e") == "7"
    assert seen == ["experiments/create", "experiments/create"]


def test_an_idempotent_write_is_sent_again_after_a_lost_answer() -> None:
    """log-batch stores a repeated point once, so a lost answer is simply retried."""
    seen: list[str] = []
    transport = _failing_once(httpx.ReadError, seen)
    rest = RestStore("http://x", Settings(), transport=transport, sleep=lambda s: None)
    rest.log_batch("r1", metrics=[Metric("m", 1.0, 1, 0)])
    assert seen == ["runs/log-batch", "runs/log-batch"]


@pytest.mark.parametrize(("status", "retried"), [(502, False), (504, False), (503, True)])
def test_a_create_is_retried_only_on_answers_that_refuse_it(status: int, retried: bool) -> None:
    """A gateway's 502 or 504 may come after the server made the experiment; 503 (and 429)
    say it did not act."""
    slept: list[float] = []
    transport = httpx.MockTransport(_flaky([status]))
    rest = RestStore("http://x", Settings(), transport=transport, sleep=slept.append)
    if retried:
        assert rest.create_experiment("e") == "7" and len(slept) == 1
    else:
        with pytest.raises(ShipyardError):
            rest.create_experiment("e")
        assert slept == []


def test_unreachable_server_is_a_clear_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    rest = RestStore(
        "http://x", Settings(), transport=httpx.MockTransport(refuse), sleep=lambda s: None
    )
    with pytest.raises(ShipyardError, match="Could not reach the tracking server"):
        rest.get_run("abc")


def test_non_json_error_pages_are_reported() -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>nope</html>")

    rest = RestStore("http://x", Settings(), transport=httpx.MockTransport(html))
    with pytest.raises(ShipyardError, match="HTTP 404"):
        rest.get_experiment("1")


# -- concurrency against a two-worker server ------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def two_workers(
    request: pytest.FixtureRequest, server_factory: Callable[..., object], tmp_path: Path
) -> Iterator[RestStore]:
    """A two-worker server on SQLite, and on PostgreSQL (where each worker serves its writes
    on its event loop: overlapping requests in one process, too)."""
    db_uri = None if request.param == "sqlite" else request.getfixturevalue("postgres_uri")
    server = server_factory(tmp_path / "two", workers=2, db_uri=db_uri)
    rest = RestStore(server.url, Settings())  # type: ignore[attr-defined]
    yield rest
    rest.close()


def test_eight_threads_logging_to_one_run_lose_nothing(two_workers: RestStore) -> None:
    run_id = two_workers.create_run("0", "u", 0).info.run_id
    errors: list[BaseException] = []

    def writer(thread: int) -> None:
        try:
            for batch in range(20):
                base = (thread * 20 + batch) * 50
                points = [Metric("m", float(base + i), base + i, base + i) for i in range(50)]
                two_workers.log_batch(run_id, points)
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = two_workers.get_metric_history(run_id, "m").items
    assert sorted(m.step for m in history) == list(range(8 * 20 * 50))


def _race_create(store: RestStore, name: str) -> list[str]:
    """Two threads create ``name`` at the same instant; returns what each saw."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            store.create_experiment(name)
            outcomes.append("created")
        except AlreadyExists:
            outcomes.append("exists")

    threads = [threading.Thread(target=create) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_concurrent_creates_of_one_name_give_one_winner(two_workers: RestStore) -> None:
    for _ in range(5):
        assert sorted(_race_create(two_workers, unique("race"))) == ["created", "exists"]
