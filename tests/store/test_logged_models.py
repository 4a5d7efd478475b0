"""Logged models (MLflow 3): the store and service contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import math

import pytest

from shipyard.entities import (
    DatasetRef,
    LifecycleStage,
    LoggedModelOrderBy,
    LoggedModelStatus,
    Metric,
    Param,
    Tag,
)
from shipyard.errors import (
    ExperimentNotFound,
    InactiveResource,
    InvalidFilter,
    InvalidParameter,
    LoggedModelNotFound,
    NotFound,
    RunNotFound,
)
from shipyard.tracking import TrackingService

READY = LoggedModelStatus.READY.value


def _run(service: TrackingService, exp: str = "0") -> str:
    return service.create_run(exp, "alice", 1).info.run_id


def _ids(service: TrackingService, exp: str, **kwargs: object) -> list[str]:
    page = service.search_logged_models([exp], **kwargs)  # type: ignore[arg-type]
    return [m.model_id for m in page.items]


# -- create and read ----------------------------------------------------------------------------
def test_create_and_get(service: TrackingService) -> None:
    exp = service.create_experiment("lm")
    run_id = _run(service, exp)
    model = service.create_logged_model(
        exp,
        "model",
        source_run_id=run_id,
        tags=[Tag("team", "ml")],
        params=[Param("C", "1.0")],
        model_type="classifier",
    )
    assert model.model_id.startswith("m-") and len(model.model_id) == 34
    location = service.get_experiment(exp).artifact_location
    assert model.artifact_uri == f"{location}/models/{model.model_id}/artifacts"
    assert (model.name, model.status, model.model_type) == ("model", "PENDING", "classifier")
    assert (model.source_run_id, model.experiment_id) == (run_id, exp)
    assert model.tags == {"team": "ml"} and model.params == {"C": "1.0"}
    assert model.creation_time == model.last_updated_time
    assert service.get_logged_model(model.model_id) == model


def test_name_is_generated_when_missing(service: TrackingService) -> None:
    model = service.create_logged_model("0")
    assert model.name and model.name != model.model_id
    assert model.source_run_id is None and model.model_type is None


def test_bad_names_are_refused(service: TrackingService) -> None:
    for name in ["a/b", "a.b", "runs:x", "50%", "it's", 'q"', "x" * 501]:
        with pytest.raises(InvalidParameter, match="model name"):
            service.create_logged_model("0", name)


def test_create_checks_experiment_and_run(service: TrackingService) -> None:
    with pytest.raises(ExperimentNotFound):
        service.create_logged_model("12345", "m")
    with pytest.raises(RunNotFound):
        service.create_logged_model("0", "m", source_run_id="f" * 32)
    with pytest.raises(InvalidParameter):
        service.create_logged_model("0", "m", source_run_id="../etc")
    exp = service.create_experiment("gone")
    service.delete_experiment(exp)
    with pytest.raises(InactiveResource):
        service.create_logged_model(exp, "m")


def test_create_validates_tags_and_params(service: TrackingService) -> None:
    with pytest.raises(InvalidParameter):
        service.create_logged_model("0", "m", tags=[Tag("bad!", "v")])
    with pytest.raises(InvalidParameter, match="at most 100 params"):
        service.create_logged_model("0", "m", params=[Param(f"p{i}", "v") for i in range(101)])
    model = service.create_logged_model("0", "m", params=[Param("long", "x" * 7000)])
    assert len(model.params["long"]) == 6000  # truncated, as for runs


def test_missing_or_impossible_ids_are_not_found(service: TrackingService) -> None:
    for model_id in ["m-" + "0" * 32, "nope", "", "m-1/../x", "\x00", "é", "m" * 65]:
        with pytest.raises(LoggedModelNotFound):
            service.get_logged_model(model_id)
        with pytest.raises(LoggedModelNotFound):
            service.finalize_logged_model(model_id, READY)
        with pytest.raises(LoggedModelNotFound):
            service.set_logged_model_tags(model_id, [Tag("k", "v")])
        with pytest.raises(LoggedModelNotFound):
            service.delete_logged_model(model_id)


# -- updates ------------------------------------------------------------------------------------
def test_finalize(service: TrackingService) -> None:
    model = service.create_logged_model("0", "m")
    ready = service.finalize_logged_model(model.model_id, READY)
    assert ready.status == READY and ready.last_updated_time > model.last_updated_time
    failed = service.finalize_logged_model(model.model_id, "FAILED")
    assert failed.status == "FAILED"
    for bad in ("UNSPECIFIED", "LOGGED_MODEL_READY", "ready", ""):
        with pytest.raises(InvalidParameter, match="status"):
            service.finalize_logged_model(model.model_id, bad)


def test_tags_and_params(service: TrackingService) -> None:
    model_id = service.create_logged_model("0", "m", tags=[Tag("a", "1")]).model_id
    service.set_logged_model_tags(model_id, [Tag("a", "2"), Tag("b", "3")])
    service.log_logged_model_params(model_id, [Param("p", "1")])
    service.log_logged_model_params(model_id, [Param("p", "2"), Param("q", "3")])
    service.delete_logged_model_tag(model_id, "b")
    model = service.get_logged_model(model_id)
    assert model.tags == {"a": "2"} and model.params == {"p": "2", "q": "3"}
    with pytest.raises(NotFound, match="No tag"):
        service.delete_logged_model_tag(model_id, "b")
    with pytest.raises(InvalidParameter):
        service.set_logged_model_tags(model_id, [Tag("", "v")])


def test_delete_is_soft(service: TrackingService) -> None:
    exp = service.create_experiment("del")
    model_id = service.create_logged_model(exp, "m").model_id
    service.delete_logged_model(model_id)
    with pytest.raises(LoggedModelNotFound):
        service.get_logged_model(model_id)
    assert service.get_logged_model(model_id, allow_deleted=True).lifecycle_stage == (
        LifecycleStage.DELETED.value
    )
    assert _ids(service, exp) == []
    with pytest.raises(LoggedModelNotFound):
        service.set_logged_model_tags(model_id, [Tag("k", "v")])


# -- metrics linked through runs ----------------------------------------------------------------
def test_metrics_logged_with_a_model_id_are_linked(service: TrackingService) -> None:
    exp = service.create_experiment("linked")
    run_id = _run(service, exp)
    model_id = service.create_logged_model(exp, "m", source_run_id=run_id).model_id
    points = [
        Metric("acc", 0.9, 10, 0, model_id, "test", "abc"),
        Metric("acc", 0.8, 11, 1, model_id),
        Metric("loss", math.nan, 12, 0, model_id),
        Metric("plain", 1.0, 13, 0),
    ]
    service.log_batch(run_id, metrics=points)
    service.log_batch(run_id, metrics=[Metric("acc", 0.95, 10, 0, model_id, "test", "abc")])
    model = service.get_logged_model(model_id)
    got = [(m.key, m.value, m.step, m.dataset_name, m.dataset_digest) for m in model.metrics]
    assert got[:2] == [("acc", 0.95, 0, "test", "abc"), ("acc", 0.8, 1, None, None)]
    assert got[2][0] == "loss" and math.isnan(got[2][1])
    assert {m.run_id for m in model.metrics} == {run_id}
    assert {m.model_id for m in model.metrics} == {model_id}
    history = service.get_metric_history(run_id, "acc").items
    assert [(m.value, m.step) for m in history] == [(0.9, 0), (0.95, 0), (0.8, 1)]


def test_metric_for_an_unknown_model_stores_nothing(service: TrackingService) -> None:
    run_id = _run(service)
    batch = [Metric("ok", 1.0, 1, 0), Metric("acc", 0.5, 1, 0, "m-" + "a" * 32)]
    with pytest.raises(LoggedModelNotFound):
        service.log_batch(run_id, metrics=batch)
    assert service.get_run(run_id).data.metrics == []
    with pytest.raises(LoggedModelNotFound):
        service.log_batch(run_id, metrics=[Metric("acc", 0.5, 1, 0, "bad/id")])
    with pytest.raises(InvalidParameter, match="digest"):
        model_id = service.create_logged_model("0", "m").model_id
        service.log_batch(run_id, metrics=[Metric("a", 1.0, 1, 0, model_id, "d", "x" * 37)])


def test_purging_a_run_or_experiment_removes_links(service: TrackingService) -> None:
    exp = service.create_experiment("purge")
    run_id = _run(service, exp)
    model_id = service.create_logged_model(exp, "m", source_run_id=run_id).model_id
    service.log_batch(run_id, metrics=[Metric("acc", 0.5, 1, 0, model_id)])
    store = service.store
    service.delete_run(run_id)
    store.purge_runs([run_id])  # type: ignore[attr-defined]
    assert service.get_logged_model(model_id).metrics == []
    service.delete_experiment(exp)
    store.purge_experiment(exp)  # type: ignore[attr-defined]
    with pytest.raises(LoggedModelNotFound):
        service.get_logged_model(model_id, allow_deleted=True)


# -- search -------------------------------------------------------------------------------------
@pytest.fixture
def three(service: TrackingService) -> tuple[str, list[str]]:
    """An experiment with models a (ready, sklearn), b (pending, agent) and c (ready, sklearn)."""
    exp = service.create_experiment("search")
    run_id = _run(service, exp)
    ids = []
    for name, kind, acc in (("a", "sklearn", 0.7), ("b", "agent", None), ("c", "sklearn", 0.9)):
        model = service.create_logged_model(
            exp,
            name,
            source_run_id=run_id if name != "b" else None,
            tags=[Tag("flavor", kind)],
            params=[Param("alpha", name)],
            model_type=kind,
        )
        ids.append(model.model_id)
        if name != "b":
            service.finalize_logged_model(model.model_id, READY)
        if acc is not None:
            m = Metric("acc", acc, 1, 0, model.model_id, "val", "d1")
            service.log_batch(run_id, metrics=[m, Metric("acc", 1 - acc, 2, 0, model.model_id)])
    return exp, ids


def test_search_default_order_is_newest_first(
    service: TrackingService, three: tuple[str, list[str]]
) -> None:
    exp, (a, b, c) = three
    assert _ids(service, exp) == [c, b, a]
    assert _ids(service, "0") == [] and _ids(service, "nope") == []


_FILTERS = [
    ("name = 'a'", "a"),
    ("name IN ('a', 'b')", "ab"),
    ("name LIKE 'A%'", ""),
    ("name ILIKE 'A%'", "a"),
    ("model_type = 'sklearn'", "ac"),
    ("status = 'READY'", "ac"),
    ("status = 'LOGGED_MODEL_PENDING'", "b"),
    ("status != 'READY'", "b"),
    ("creation_timestamp > 0", "abc"),
    ("creation_time < 0", ""),
    ("params.alpha = 'b'", "b"),
    ("params.alpha != 'b'", "ac"),
    ("tags.flavor = 'agent'", "b"),
    ("tags.`flavor` LIKE 'sk%'", "ac"),
    # Any point counts: a has 0.7 and 0.3, c has 0.9 and 0.1.
    ("metrics.acc > 0.5", "ac"),
    ("metrics.acc < 0.2", "c"),
    ("metrics.acc >= 0.9", "c"),
    ("metrics.acc > 0.8 AND model_type = 'sklearn' AND status = 'READY'", "c"),
]


def test_search_filters(service: TrackingService, three: tuple[str, list[str]]) -> None:
    exp, ids = three
    by_name = dict(zip("abc", ids, strict=True))
    for filter_string, expected in _FILTERS:
        found = _ids(service, exp, filter_string=filter_string)
        assert sorted(found) == sorted(by_name[n] for n in expected), filter_string


def test_search_by_source_run_and_id(
    service: TrackingService, three: tuple[str, list[str]]
) -> None:
    exp, (a, b, c) = three
    run_id = service.get_logged_model(a).source_run_id
    assert sorted(_ids(service, exp, filter_string=f"source_run_id = '{run_id}'")) == sorted([a, c])
    assert _ids(service, exp, filter_string=f"model_id = '{b}'") == [b]


def test_search_with_datasets(service: TrackingService, three: tuple[str, list[str]]) -> None:
    exp, (a, _, c) = three
    on_val = [DatasetRef("val")]
    assert sorted(_ids(service, exp, datasets=on_val)) == sorted([a, c])
    # On "val" a scored 0.7 and c 0.9; across all datasets a also has 0.3.
    assert _ids(service, exp, filter_string="metrics.acc > 0.8", datasets=on_val) == [c]
    assert _ids(service, exp, filter_string="metrics.acc < 0.5", datasets=on_val) == []
    assert _ids(service, exp, datasets=[DatasetRef("val", "other")]) == []
    with pytest.raises(InvalidParameter, match="dataset_name"):
        _ids(service, exp, datasets=[DatasetRef("")])


def test_search_order_by(service: TrackingService, three: tuple[str, list[str]]) -> None:
    exp, (a, b, c) = three

    def order(*clauses: LoggedModelOrderBy) -> list[str]:
        return _ids(service, exp, order_by=list(clauses))

    assert order(LoggedModelOrderBy("name")) == [a, b, c]
    assert order(LoggedModelOrderBy("name", ascending=False)) == [c, b, a]
    assert order(LoggedModelOrderBy("creation_timestamp")) == [a, b, c]
    # The latest point (timestamp 2) is 0.3 for a and 0.1 for c; b has none and sorts last.
    assert order(LoggedModelOrderBy("metrics.acc")) == [c, a, b]
    assert order(LoggedModelOrderBy("metrics.acc", ascending=False)) == [a, c, b]
    on_val = LoggedModelOrderBy("metrics.acc", False, dataset_name="val")
    assert order(on_val) == [c, a, b]
    with pytest.raises(InvalidFilter):
        order(LoggedModelOrderBy("params.alpha"))
    with pytest.raises(InvalidParameter):
        order(LoggedModelOrderBy(""))


def test_search_pages(service: TrackingService, three: tuple[str, list[str]]) -> None:
    exp, ids = three
    first = service.search_logged_models([exp], max_results=2)
    assert len(first.items) == 2 and first.next_page_token
    rest = service.search_logged_models([exp], max_results=2, page_token=first.next_page_token)
    assert [m.model_id for m in first.items + rest.items] == ids[::-1]
    assert rest.next_page_token is None
    first_model = first.items[0]
    assert first_model.params and first_model.tags and first_model.metrics


def test_search_rejects_bad_input(service: TrackingService, three: tuple[str, list[str]]) -> None:
    bad: list[dict[str, object]] = [
        {"filter_string": "name = 'a' OR name = 'b'"},
        {"filter_string": "run_name = 'a'"},
        {"filter_string": "metrics.acc = 'x'"},
        {"filter_string": "datasets.name = 'x'"},
        {"max_results": 0},
        {"max_results": 50001},
        {"page_token": "garbage"},
    ]
    for kwargs in bad:
        with pytest.raises(InvalidParameter):
            service.search_logged_models([three[0]], **kwargs)  # type: ignore[arg-type]
