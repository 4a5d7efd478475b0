"""The registry's contract on SQLite and PostgreSQL: models, versions, aliases, stages, search,
approvals, rollback and the hash-chained audit trail (including 8 concurrent writers)."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from shipyard.entities import ApprovalStatus, Param, Tag
from shipyard.errors import (
    AlreadyExists,
    ApprovalRequired,
    InvalidParameter,
    ModelVersionNotFound,
    NothingToRollBack,
    PermissionDenied,
    RegisteredModelNotFound,
)
from shipyard.registry import RegistryService
from shipyard.store._registry import Change
from shipyard.store.sql import SqlStore
from shipyard.store.sql._registry import SqlRegistryStore
from shipyard.tracking import TrackingService

ALICE = Change("alice", "first try")
BOB = Change("bob", "looks good")


@pytest.fixture
def registry(sql_store: SqlStore, service: TrackingService, tmp_path: Path) -> RegistryService:
    return RegistryService(
        SqlRegistryStore(sql_store.engine),
        service,
        artifact_roots=(str(tmp_path / "artifacts"),),
    )


def _run_source(service: TrackingService) -> tuple[str, str]:
    run = service.create_run("0", "alice", 1, [Tag("mlflow.source.git.commit", "abc123")], "r")
    return run.info.run_id, f"runs:/{run.info.run_id}/model"


def _versions(registry: RegistryService, service: TrackingService, n: int, name: str = "m") -> str:
    run_id, source = _run_source(service)
    registry.create_registered_model(name, ALICE)
    for _ in range(n):
        registry.create_model_version(name, source, ALICE, run_id=run_id)
    return run_id


def test_create_get_rename_update_delete(registry: RegistryService) -> None:
    created = registry.create_registered_model("churn", ALICE, {"team": "risk"}, "first")
    assert (created.name, created.tags, created.description, created.user_id) == (
        "churn",
        {"team": "risk"},
        "first",
        "alice",
    )
    with pytest.raises(AlreadyExists):
        registry.create_registered_model("churn", ALICE)
    registry.update_registered_model("churn", "second", ALICE)
    renamed = registry.rename_registered_model("churn", "churn-v2", ALICE)
    assert renamed.description == "second"
    with pytest.raises(RegisteredModelNotFound, match="name=churn not found"):
        registry.get_registered_model("churn")
    registry.delete_registered_model("churn-v2", ALICE)
    with pytest.raises(RegisteredModelNotFound):
        registry.get_registered_model("churn-v2")


def test_version_numbers_are_never_reused(
    registry: RegistryService, service: TrackingService
) -> None:
    _versions(registry, service, 3)
    registry.delete_model_version("m", "3", ALICE)
    run_id, source = _run_source(service)
    assert registry.create_model_version("m", source, ALICE, run_id=run_id).version == "4"
    with pytest.raises(ModelVersionNotFound, match="version=3"):
        registry.get_model_version("m", "3")
    with pytest.raises(InvalidParameter, match="positive integer"):
        registry.get_model_version("m", "three")


def test_stages_archive_and_latest_versions(
    registry: RegistryService, service: TrackingService
) -> None:
    _versions(registry, service, 4)
    registry.transition_model_version_stage("m", "1", "production", False, ALICE)
    registry.transition_model_version_stage("m", "2", "Staging", False, ALICE)
    moved = registry.transition_model_version_stage("m", "3", "Production", True, ALICE)
    assert moved.current_stage == "Production"
    assert registry.get_model_version("m", "1").current_stage == "Archived"
    assert registry.get_model_version("m", "2").current_stage == "Staging"
    latest = {v.current_stage: v.version for v in registry.get_latest_versions("m")}
    assert latest == {"None": "4", "Staging": "2", "Production": "3", "Archived": "1"}
    assert [v.version for v in registry.get_latest_versions("m", ["Production"])] == ["3"]
    with pytest.raises(InvalidParameter, match="Invalid Model Version stage"):
        registry.transition_model_version_stage("m", "1", "Prod", False, ALICE)
    model = registry.get_registered_model("m")
    assert sorted(v.version for v in model.latest_versions) == ["1", "2", "3", "4"]


def test_aliases_one_version_each_and_mlflow_errors(
    registry: RegistryService, service: TrackingService
) -> None:
    _versions(registry, service, 2)
    registry.set_registered_model_alias("m", "champion", "1", ALICE)
    registry.set_registered_model_alias("m", "champion", "2", ALICE)
    assert registry.get_model_version_by_alias("m", "champion").version == "2"
    assert registry.get_model_version("m", "2").aliases == ["champion"]
    assert registry.get_registered_model("m").aliases == {"champion": "2"}
    with pytest.raises(InvalidParameter, match="alias nope not found"):
        registry.get_model_version_by_alias("m", "nope")
    registry.delete_registered_model_alias("m", "nope", ALICE)  # absent: not an error
    for bad in ("latest", "v3", "has space", ""):
        with pytest.raises(InvalidParameter):
            registry.set_registered_model_alias("m", bad, "1", ALICE)
    registry.delete_model_version("m", "2", ALICE)
    with pytest.raises(InvalidParameter):
        registry.get_model_version_by_alias("m", "champion")


def test_search_models_and_versions(registry: RegistryService, service: TrackingService) -> None:
    run_id = _versions(registry, service, 3, "alpha")
    registry.create_registered_model("beta", ALICE, {"mlflow.prompt.is_prompt": "true"})
    registry.create_registered_model("Gamma", ALICE, {"team": "risk"})
    registry.set_model_version_tag("alpha", "2", "validated", "yes", ALICE)
    names = lambda page: [m.name for m in page.items]  # noqa: E731
    prompt_free = "tag.`mlflow.prompt.is_prompt` != 'true'"
    assert names(registry.search_registered_models(prompt_free)) == ["Gamma", "alpha"]
    assert names(registry.search_registered_models("name LIKE 'a%'")) == ["alpha"]
    assert names(registry.search_registered_models("name ILIKE 'g%'")) == ["Gamma"]
    assert names(registry.search_registered_models("tags.team = 'risk'")) == ["Gamma"]
    first = registry.search_registered_models(max_results=2, order_by=["name DESC"])
    assert names(first) == ["beta", "alpha"] and first.next_page_token
    rest = registry.search_registered_models(
        max_results=2, order_by=["name DESC"], page_token=first.next_page_token
    )
    assert names(rest) == ["Gamma"] and rest.next_page_token is None
    versions = registry.search_model_versions(f"run_id = '{run_id}'")
    assert [v.version for v in versions.items] == ["3", "2", "1"]
    tagged = registry.search_model_versions("name = 'alpha' AND tags.validated = 'yes'")
    assert [v.version for v in tagged.items] == ["2"]
    ordered = registry.search_model_versions("name='alpha'", order_by=["version_number ASC"])
    assert [v.version for v in ordered.items] == ["1", "2", "3"]
    with pytest.raises(InvalidParameter):
        registry.search_registered_models("name = 'a' OR name = 'b'")


def test_rollback_walks_back_and_refuses_at_the_start(
    registry: RegistryService, service: TrackingService
) -> None:
    _versions(registry, service, 5)
    for version in ("3", "4", "5"):
        registry.set_registered_model_alias("m", "production", version, ALICE)
    assert registry.rollback_alias("m", "production", BOB).version == "4"
    assert registry.rollback_alias("m", "production", BOB).version == "3"
    with pytest.raises(NothingToRollBack, match="nothing to roll back"):
        registry.rollback_alias("m", "production", BOB)
    registry.set_registered_model_alias("m", "production", "5", ALICE)
    assert registry.rollback_alias("m", "production", BOB).version == "3"
    with pytest.raises(NothingToRollBack, match="not set"):
        registry.rollback_alias("m", "staging", BOB)
    events = registry.audit_events("m")
    rollbacks = [(e.before, e.after, e.actor) for e in events if e.action == "alias.rollback"]
    assert rollbacks == [("5", "4", "bob"), ("4", "3", "bob"), ("5", "3", "bob")]


def test_rollback_follows_a_rename_and_skips_deleted_versions(
    registry: RegistryService, service: TrackingService
) -> None:
    _versions(registry, service, 3)
    for version in ("1", "2", "3"):
        registry.set_registered_model_alias("m", "production", version, ALICE)
    registry.rename_registered_model("m", "m2", ALICE)
    registry.delete_model_version("m2", "2", ALICE)
    assert registry.rollback_alias("m2", "production", BOB).version == "1"


def test_protected_alias_needs_a_second_person(
    registry: RegistryService, service: TrackingService
) -> None:
    _versions(registry, service, 2)
    registry.set_registered_model_alias("m", "production", "1", ALICE)
    registry.protect_alias("m", "production", ALICE)
    with pytest.raises(ApprovalRequired, match="protected"):
        registry.set_registered_model_alias("m", "production", "2", ALICE)
    moved = registry.move_alias("m", "production", "2", ALICE)
    assert moved.version is None and moved.request is not None
    request = moved.request
    expected = ("PENDING", "alice", "first try")
    assert (request.status, request.requested_by, request.reason) == expected
    with pytest.raises(PermissionDenied, match="second person"):
        registry.decide_approval(request.id, True, ALICE)
    assert registry.get_model_version_by_alias("m", "production").version == "1"
    decided = registry.decide_approval(request.id, True, BOB, "ok")
    assert (decided.status, decided.decided_by) == (ApprovalStatus.APPROVED.value, "bob")
    assert registry.get_model_version_by_alias("m", "production").version == "2"
    with pytest.raises(InvalidParameter, match="already decided"):
        registry.decide_approval(request.id, False, BOB)
    rejected = registry.request_approval("m", "production", "1", ALICE)
    registry.decide_approval(rejected.id, False, BOB, "not now")
    assert registry.get_model_version_by_alias("m", "production").version == "2"
    assert [a.status for a in registry.list_approvals("m")] == ["APPROVED", "REJECTED"]
    # a rollback returns to an already-approved version without a new approval
    assert registry.rollback_alias("m", "production", BOB).version == "1"
    actions = [e.action for e in registry.audit_events("m")]
    assert actions[-6:] == [
        "approval.request",
        "approval.approve",
        "alias.set",
        "approval.request",
        "approval.reject",
        "alias.rollback",
    ]


def test_audit_trail_records_who_what_why_and_verifies(
    registry: RegistryService, service: TrackingService, sql_store: SqlStore
) -> None:
    _versions(registry, service, 2)
    registry.set_registered_model_alias("m", "production", "1", Change("carol", "launch"))
    registry.set_registered_model_alias("m", "production", "2", Change("dave", "better F1"))
    event = registry.audit_events("m")[-1]
    assert (event.action, event.actor, event.reason, event.before, event.after) == (
        "alias.set",
        "dave",
        "better F1",
        "1",
        "2",
    )
    verdict = registry.verify_audit()
    assert verdict.ok and verdict.events == verdict.head_seq == event.seq
    with sql_store.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :s"), {"s": event.seq - 1}
        )
    verdict = registry.verify_audit()
    assert not verdict.ok and verdict.seq == event.seq - 1 and "altered" in str(verdict.problem)


@pytest.mark.parametrize("tamper", ["remove-middle", "remove-last", "swap"])
def test_audit_verify_names_the_first_broken_event(
    tamper: str, registry: RegistryService, service: TrackingService, sql_store: SqlStore
) -> None:
    _versions(registry, service, 3)
    head = registry.verify_audit().head_seq
    with sql_store.engine.begin() as conn:
        if tamper == "remove-middle":
            conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
        elif tamper == "remove-last":
            conn.execute(text("DELETE FROM audit_events WHERE seq = :s"), {"s": head})
        else:
            conn.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = 2"))
            conn.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 3"))
            conn.execute(text("UPDATE audit_events SET seq = 3 WHERE seq = -1"))
    verdict = registry.verify_audit()
    expected = {"remove-middle": 2, "remove-last": head, "swap": 2}[tamper]
    assert not verdict.ok and verdict.seq == expected, verdict


def test_custom_events_are_checked_and_chained(
    registry: RegistryService, service: TrackingService
) -> None:
    _versions(registry, service, 1)
    event = registry.record_event(
        "m", "gate.decision", {"passed": True, "f1": 0.91}, BOB, version="1"
    )
    assert (event.action, event.version, event.details["f1"]) == ("gate.decision", "1", 0.91)
    for bad in ("alias.set", "Gate", "gate"):
        with pytest.raises(InvalidParameter):
            registry.record_event("m", bad, {}, BOB)
    with pytest.raises(ModelVersionNotFound):
        registry.record_event("m", "gate.decision", {}, BOB, version="9")
    assert registry.verify_audit().ok


def test_eight_writers_moving_one_alias(
    registry: RegistryService, service: TrackingService
) -> None:
    _versions(registry, service, 8)
    errors: list[BaseException] = []

    def mover(worker: int) -> None:
        try:
            for i in range(10):
                version = str((worker + i) % 8 + 1)
                registry.set_registered_model_alias(
                    "m", "production", version, Change(f"w{worker}", f"move {i}")
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=mover, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    moves = [e for e in registry.audit_events("m") if e.action == "alias.set"]
    assert len(moves) == 80
    assert sorted({(e.actor, e.reason) for e in moves}) == sorted(
        {(f"w{w}", f"move {i}") for w in range(8) for i in range(10)}
    )
    # one order: each move's "before" is the previous move's "after"; the alias ends on the last
    for earlier, later in itertools.pairwise(moves):
        assert later.before == earlier.after
    assert registry.get_model_version_by_alias("m", "production").version == moves[-1].after
    seqs = [e.seq for e in registry.audit_events()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert registry.verify_audit().ok


def test_lineage_snapshot(registry: RegistryService, service: TrackingService) -> None:
    run_id = _versions(registry, service, 1)
    service.log_batch(run_id, params=[Param("alpha", "0.5")])
    lineage = registry.get_lineage("m", "1")
    assert lineage["run"]["run_id"] == run_id
    assert lineage["code"]["git_commit"] == "abc123"
    assert lineage["download_uri"].endswith(f"{run_id}/artifacts/model")
    # a snapshot taken at registration: the param logged afterwards is not in it
    assert lineage["run"]["params"] == {}
    assert lineage["registered_by"] == "alice"


def test_version_tags_stay_with_their_version_in_small_and_large_pages(
    registry: RegistryService, service: TrackingService
) -> None:
    run_id, source = _run_source(service)
    registry.create_registered_model("tagged", ALICE)
    for i in range(1, 602):
        registry.create_model_version(
            "tagged", source, ALICE, run_id=run_id, tags={"n": str(i)} if i % 2 else None
        )
    registry.set_registered_model_alias("tagged", "odd", "301", ALICE)
    assert registry.get_model_version_by_alias("tagged", "odd").tags == {"n": "301"}
    assert registry.get_model_version("tagged", "300").tags == {}
    for size in (10, 601):  # below and above the pairs-per-query limit
        page = registry.search_model_versions("name = 'tagged'", max_results=size)
        for v in page.items:
            assert v.tags == ({"n": v.version} if int(v.version) % 2 else {})
