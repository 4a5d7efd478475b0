"""Gates against a real tracking server with the registry: the baseline is the alias holder,
``promote`` moves the alias only on a pass, the decision lands in the audit trail and the
report in the version's run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from _gate_models import Bundle

import shipyard
import shipyard.sklearn
from shipyard import gates
from shipyard.client._artifacts import list_run_artifacts
from shipyard.errors import InvalidParameter, NotFound
from shipyard.models import load_model

POLICY = """\
promote_to: production
label: target
checks:
  - {type: metric, metric: f1, min: 0.9, min_gain: 0.02}
  - {type: schema}
"""


@pytest.fixture
def client(live_server: str) -> Iterator[shipyard.Client]:
    shipyard.set_tracking_uri(live_server)
    yield shipyard.Client(live_server)
    shipyard.set_tracking_uri(None)


def _register(client: shipyard.Client, name: str, folder: Path) -> tuple[str, str]:
    """Log the package folder in a new run and register it: (version, run id)."""
    model = load_model(folder).unwrap()
    example = pd.read_json(folder / "input_example.json", orient="split")
    with shipyard.start_run() as run:
        info = shipyard.sklearn.log_model(model, "model", input_example=example)
    version = client.create_model_version(name, info.model_uri, run_id=run.run_id)
    return version.version, run.run_id


def test_promotion_follows_the_decision_and_is_audited(
    client: shipyard.Client, bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    name = f"cancer-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    (tmp_path / "gates.yaml").write_text(POLICY)
    policy = tmp_path / "gates.yaml"
    first, _ = _register(client, name, bundle.models["stump"])
    better, better_run = _register(client, name, bundle.models["logistic"])
    noisy, _ = _register(client, name, bundle.models["tree2"])

    # nobody holds production yet: the stump passes its absolute bound and becomes production
    report = gates.run(f"models:/{name}/{first}", policy, eval_data, promote=True)
    assert report.passed and report.promoted and report.baseline is None
    assert client.get_model_version_by_alias(name, "production").version == first

    # the better model beats the stump beyond the noise: the alias moves
    report = gates.run(f"models:/{name}/{better}", policy, eval_data, promote=True, reason="CI #42")
    assert report.passed and report.promoted
    assert report.baseline == f"models:/{name}/{first}"
    assert client.get_model_version_by_alias(name, "production").version == better

    # the tree's gain over the (now better) baseline fails: production stays where it is
    report = gates.run(f"models:/{name}/{noisy}", policy, eval_data, promote=True)
    assert not report.passed and not report.promoted
    assert client.get_model_version_by_alias(name, "production").version == better

    decisions = [e for e in client.audit_events(name) if e.action == gates.GATE_EVENT]
    assert [(e.version, e.details["passed"], e.details["promoted"]) for e in decisions] == [
        (first, True, True), (better, True, True), (noisy, False, False),
    ]  # fmt: skip
    assert decisions[1].reason == "CI #42"
    assert decisions[2].details["checks"] == {"metric:f1:vs-baseline": "failed", "schema": "passed"}
    assert "is below the required gain +0.02" in decisions[2].details["failures"][0]
    moves = [e for e in client.audit_events(name) if e.action.startswith("alias.")]
    assert [e.version for e in moves] == [first, better]

    tags = {v: client.get_model_version(name, v).tags for v in (first, better, noisy)}
    assert [tags[v]["gate.production"] for v in (first, better, noisy)] == [
        "passed",
        "passed",
        "failed",
    ]
    assert tags[better]["gate.production.report"] == decisions[1].details["artifacts"][1]

    folder = decisions[1].details["artifacts"][0].split("/", 2)[2].rsplit("/", 1)[0]
    logged = {f.path for f in list_run_artifacts(client, better_run, folder)}
    assert logged == {f"{folder}/report.json", f"{folder}/report.html"}


def test_a_protected_alias_gets_an_approval_request(
    client: shipyard.Client, bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    name = f"cancer-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    (tmp_path / "gates.yaml").write_text(POLICY)
    version, _ = _register(client, name, bundle.models["logistic"])
    client.protect_alias(name, "production")
    report = gates.run(
        f"models:/{name}/{version}", tmp_path / "gates.yaml", eval_data, promote=True
    )
    assert report.passed and not report.promoted
    assert report.approval_request is not None
    (request,) = client.list_approvals(name)
    assert (request.id, request.alias, request.version) == (
        report.approval_request,
        "production",
        version,
    )
    with pytest.raises((NotFound, InvalidParameter), match="not found"):
        client.get_model_version_by_alias(name, "production")


def test_promote_needs_a_registered_version(
    bundle: Bundle, eval_data: pd.DataFrame, tmp_path: Path
) -> None:
    (tmp_path / "gates.yaml").write_text(POLICY)
    with pytest.raises(InvalidParameter, match="not a registered version"):
        gates.run(bundle.models["logistic"], tmp_path / "gates.yaml", eval_data, promote=True)
