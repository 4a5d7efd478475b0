"""Projects: a project file, ``shipyard run`` with everything recorded, ``shipyard reproduce``."""

from shipyard.projects._digests import DataDigest, model_digest
from shipyard.projects._env import BuiltEnv, EnvBuildFailed, LockChange, diff_locks
from shipyard.projects._reproduce import Comparison, ReproduceReport, reproduce
from shipyard.projects._runner import RunOptions, RunOutcome, run_project
from shipyard.projects._spec import (
    CondaEnv,
    DockerEnv,
    EntryPoint,
    LoadedProject,
    Parameter,
    Project,
    PythonEnv,
    load_project,
)

__all__ = [
    "BuiltEnv",
    "Comparison",
    "CondaEnv",
    "DataDigest",
    "DockerEnv",
    "EntryPoint",
    "EnvBuildFailed",
    "LoadedProject",
    "LockChange",
    "Parameter",
    "Project",
    "PythonEnv",
    "ReproduceReport",
    "RunOptions",
    "RunOutcome",
    "diff_locks",
    "load_project",
    "model_digest",
    "reproduce",
    "run_project",
]
