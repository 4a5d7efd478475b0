"""The project file: shipyard.yaml and MLflow's MLproject, with clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.errors import InvalidParameter
from shipyard.projects import load_project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "project"


def test_the_example_project_reads_with_typed_parameters() -> None:
    loaded = load_project(EXAMPLE)
    assert loaded.file == EXAMPLE / "shipyard.yaml"
    main = loaded.project.entry_points["main"]
    assert {n: p.type for n, p in main.parameters.items()} == {
        "data": "path", "n_estimators": "int", "max_depth": "int",
        "test_size": "float", "seed": "int",
    }  # fmt: skip
    assert main.parameters["data"].data is True
    assert loaded.project.python_env is not None
    assert loaded.project.python_env.requirements == "requirements.txt"


def test_mlflow_mlproject_is_read_as_is(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text(
        "name: tutorial\n"
        "python_env: python_env.yaml\n"
        "entry_points:\n"
        "  main:\n"
        "    parameters:\n"
        "      alpha: {type: float, default: 0.5}\n"
        "      l1_ratio: float\n"
        "      data_file: path\n"
        "    command: python train.py {alpha} {l1_ratio}\n"
    )
    (tmp_path / "python_env.yaml").write_text(
        "python: '3.11'\nbuild_dependencies: [pip]\ndependencies: [scikit-learn==1.4.0]\n"
    )
    project = load_project(tmp_path).project
    params = project.entry_points["main"].parameters
    assert (params["alpha"].type, params["alpha"].default) == ("float", 0.5)
    assert (params["l1_ratio"].type, params["l1_ratio"].default) == ("float", None)
    assert params["data_file"].type == "path"
    assert project.python_env is not None
    assert project.python_env.python == "3.11"
    assert project.python_env.dependencies == ["scikit-learn==1.4.0"]


def test_conda_and_docker_environments(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text("conda_env: conda.yaml\nentry_points: {}\n")
    assert load_project(tmp_path).project.conda_env.file == "conda.yaml"  # type: ignore[union-attr]
    (tmp_path / "MLproject").write_text(
        "docker_env:\n  image: python:3.11-slim\n  volumes: ['/data:/data']\n"
        "  environment: [[A, '1'], B]\nentry_points: {}\n"
    )
    docker = load_project(tmp_path).project.docker_env
    assert docker is not None and docker.image == "python:3.11-slim"
    assert docker.environment == [["A", "1"], "B"]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            "entry_points:\n  main:\n    parameters: {a: {type: complex}}\n    command: x\n",
            "entry_points.main.parameters.a.type",
        ),
        ("entry_points:\n  main: {parameters: {}}\n", "entry_points.main.command"),
        (
            "python_env: {python: '3.11'}\ndocker_env: {image: x}\n",
            "declare one environment, not python_env and docker_env",
        ),
        ("entry_points: {main: {command: x, colour: red}}\n", "entry_points.main.colour"),
        ("- a list\n", "must be a YAML mapping"),
        ("entry_points: [\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_bad_project_files_say_what_is_wrong(tmp_path: Path, text: str, named: str) -> None:
    (tmp_path / "shipyard.yaml").write_text(text)
    with pytest.raises(InvalidParameter) as info:
        load_project(tmp_path)
    assert named in info.value.message


def test_missing_project_file_and_entry_point(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"No shipyard\.yaml or shipyard\.yml or MLproject"):
        load_project(tmp_path)
    (tmp_path / "MLproject").write_text("python_env: missing.yaml\n")
    with pytest.raises(InvalidParameter, match=r"python_env file 'missing\.yaml' does not exist"):
        load_project(tmp_path)
    project = load_project(EXAMPLE).project
    with pytest.raises(
        InvalidParameter, match=r"Entry point 'nope' is not in the project \(declared: main\)"
    ):
        project.entry_point("nope", EXAMPLE)
    assert project.entry_point("train.py", EXAMPLE).command == "python train.py"
