"""The project file: ``shipyard.yaml``, or MLflow's ``MLproject`` read as is.

Both are YAML with the same core (``name``, ``entry_points`` with a ``command`` and typed
``parameters``, one environment). Shipyard adds ``data`` (input files whose digests are recorded
and checked by ``shipyard reproduce``), an ``int`` parameter type, parameter checks (``choices``,
``min``, ``max``) and an inline ``python_env``. MLflow's forms stay valid: ``python_env:
python_env.yaml``, ``conda_env: conda.yaml``, ``docker_env: {image: ...}`` and the shorthand
``alpha: float`` for a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shipyard.errors import InvalidParameter

__all__ = [
    "PROJECT_FILES",
    "CondaEnv",
    "DockerEnv",
    "EntryPoint",
    "LoadedProject",
    "Parameter",
    "Project",
    "PythonEnv",
    "load_project",
]

PROJECT_FILES = ("shipyard.yaml", "shipyard.yml", "MLproject")
ParamType = Literal["string", "int", "float", "path", "uri"]
_TYPE_ALIASES = {"str": "string", "integer": "int", "double": "float", "number": "float"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Parameter(_Strict):
    """One typed parameter; ``data: true`` records the digest of the file it names."""

    type: ParamType = "string"
    default: str | int | float | None = None
    description: str | None = None
    choices: list[str | int | float] | None = None
    min: float | None = None
    max: float | None = None
    data: bool = False

    @field_validator("type", mode="before")
    @classmethod
    def _alias(cls, value: Any) -> Any:
        return _TYPE_ALIASES.get(value, value) if isinstance(value, str) else value


class EntryPoint(_Strict):
    command: str
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    data: list[str] = Field(default_factory=list)

    @field_validator("parameters", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """MLflow's ``alpha: float`` means ``alpha: {type: float}``."""
        if isinstance(value, dict):
            return {k: {"type": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


class PythonEnv(_Strict):
    """A virtualenv: the Python version and what to install (a list, a file, or a lock file).

    ``system_site_packages`` lets the environment see the packages of the Python that runs
    Shipyard (its base installation and, when that is a virtualenv, the virtualenv's too).
    """

    python: str | None = None
    build_dependencies: list[str] = Field(default_factory=list)
    dependencies: list[str] = Field(default_factory=list)
    requirements: str | None = None
    lock: str | None = None
    system_site_packages: bool = False


class CondaEnv(_Strict):
    file: str


class DockerEnv(_Strict):
    image: str
    volumes: list[str] = Field(default_factory=list)
    environment: list[str | list[str]] = Field(default_factory=list)


class Project(_Strict):
    name: str | None = None
    entry_points: dict[str, EntryPoint] = Field(default_factory=dict)
    python_env: PythonEnv | None = None
    conda_env: CondaEnv | None = None
    docker_env: DockerEnv | None = None
    data: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_environment(self) -> Project:
        declared = [n for n in ("python_env", "conda_env", "docker_env") if getattr(self, n)]
        if len(declared) > 1:
            raise ValueError(f"declare one environment, not {' and '.join(declared)}")
        return self

    def entry_point(self, name: str, folder: Path) -> EntryPoint:
        """The named entry point; an undeclared ``.py`` or ``.sh`` file runs as MLflow runs it."""
        if name in self.entry_points:
            return self.entry_points[name]
        if name.endswith((".py", ".sh")) and (folder / name).is_file():
            runner = "python" if name.endswith(".py") else "bash"
            return EntryPoint(command=f"{runner} {name}")
        known = ", ".join(sorted(self.entry_points)) or "none"
        raise InvalidParameter(f"Entry point '{name}' is not in the project (declared: {known}).")


@dataclass(frozen=True, slots=True)
class LoadedProject:
    project: Project
    folder: Path  # where the command runs
    file: Path | None  # the project file (None: a folder without one, MLflow's default)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InvalidParameter(f"{path.name} is not valid YAML: {exc}") from None


def _env_file(raw: dict[str, Any], folder: Path) -> dict[str, Any]:
    """MLflow names environment files; read them in so one model describes both forms."""
    raw = dict(raw)
    if isinstance(raw.get("python_env"), str):
        env_path = folder / raw["python_env"]
        if not env_path.is_file():
            raise InvalidParameter(f"python_env file '{raw['python_env']}' does not exist.")
        raw["python_env"] = _read_yaml(env_path)
    if isinstance(raw.get("conda_env"), str):
        raw["conda_env"] = {"file": raw["conda_env"]}
    return raw


def _messages(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


def parse_project(raw: Any, folder: Path, source: str) -> Project:
    if not isinstance(raw, dict):
        raise InvalidParameter(f"{source} must be a YAML mapping, not {type(raw).__name__}.")
    try:
        return Project.model_validate(_env_file(raw, folder))
    except ValidationError as exc:
        raise InvalidParameter(f"{source} is not a valid project file: {_messages(exc)}") from None


def load_project(path: Path) -> LoadedProject:
    """Read the project at ``path``: a folder holding a project file, or the file itself."""
    path = path.resolve()
    if path.is_file():
        return LoadedProject(
            parse_project(_read_yaml(path), path.parent, path.name), path.parent, path
        )
    if not path.is_dir():
        raise InvalidParameter(f"Project '{path}' does not exist.")
    for name in PROJECT_FILES:
        candidate = path / name
        if candidate.is_file():
            project = parse_project(_read_yaml(candidate), path, name)
            return LoadedProject(project, path, candidate)
    raise InvalidParameter(f"No {' or '.join(PROJECT_FILES)} in {path}.")
