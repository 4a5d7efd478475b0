"""``shipyard run``: resolve a project's entry point, build its environment, record everything
needed to run it again on a run, and run it with the run handed in.

What a run records (under the ``shipyard/`` artifact folder, plus params and tags):
``project.json`` (source, commit, entry point, parameters, environment, data digests: what
``shipyard reproduce`` reads), the project file, ``git.patch`` (uncommitted changes),
``environment/lock.txt`` (exact versions), ``output.log`` (the command's output) and, for
``docker_env``, ``docker_command.txt``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.client import Client
from shipyard.client._artifacts import log_run_artifact, log_run_text
from shipyard.client._backend import is_remote
from shipyard.entities import Dataset, DatasetInput, Param, RunStatus, Tag
from shipyard.errors import InvalidParameter
from shipyard.projects import _git
from shipyard.projects._conda import build_conda_env
from shipyard.projects._digests import DataDigest, digest_data
from shipyard.projects._docker import docker_available, docker_command, image_id, render
from shipyard.projects._env import BuiltEnv, build_virtualenv, local_env, requirement_lines
from shipyard.projects._params import format_command, resolve_params
from shipyard.projects._process import Output, stream
from shipyard.projects._spec import LoadedProject, load_project

__all__ = [
    "FORMAT_VERSION",
    "PreparedRun",
    "RunOptions",
    "RunOutcome",
    "build_environment",
    "execute",
    "prepare",
    "run_project",
]

FORMAT_VERSION = 1
MANAGERS = ("local", "virtualenv", "docker", "conda")
Log = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    uri: str = "."
    entry_point: str = "main"
    params: Mapping[str, str] = field(default_factory=dict)
    experiment_id: str | None = None
    experiment_name: str | None = None
    run_name: str | None = None
    env_manager: str | None = None  # None: what the project declares
    version: str | None = None  # branch, tag or commit of a git URL
    cache_dir: Path | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    experiment_id: str
    status: str
    exit_code: int


@dataclass
class PreparedRun:
    """Everything known before anything runs: checked parameters, digests, the source."""

    uri: str
    loaded: LoadedProject
    entry_point: str
    params: dict[str, str]
    command: str
    data: list[DataDigest]
    source: _git.GitSource | None
    git_url: str | None = None
    version: str | None = None
    manager: str = "local"

    @property
    def folder(self) -> Path:
        return self.loaded.folder

    def tracked(self, digest: DataDigest) -> bool:
        """Whether git tracks this data file (a checkout of the commit then holds it)."""
        if self.source is None or not Path(digest.location).is_relative_to(self.source.root):
            return False
        return Path(digest.location).relative_to(self.source.root).as_posix() in self.source.tracked


def _data_paths(loaded: LoadedProject, entry_name: str, params: dict[str, str]) -> list[str]:
    entry = loaded.project.entry_point(entry_name, loaded.folder)
    declared = [*loaded.project.data, *entry.data]
    declared += [params[n] for n, spec in entry.parameters.items() if spec.data and n in params]
    return declared


def _manager(loaded: LoadedProject, wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in MANAGERS:
            raise InvalidParameter(
                f"--env-manager must be one of {', '.join(MANAGERS)}, not {wanted!r}."
            )
        return wanted
    project = loaded.project
    if project.docker_env:
        return "docker"
    if project.conda_env:
        return "conda"
    return "virtualenv" if project.python_env else "local"


def prepare(
    options: RunOptions, folder: Path | None = None, tracking_uri: str | None = None
) -> PreparedRun:
    """Load, resolve and check: every error here comes before anything is built or recorded.

    ``folder`` is where a git URL was cloned (the caller owns and removes it).
    """
    git_url = None
    if folder is None:
        folder = Path(options.uri)
    else:
        git_url, subdir = _git.split_git_url(options.uri)
        folder = folder / subdir if subdir else folder
    loaded = load_project(folder)
    entry = loaded.project.entry_point(options.entry_point, loaded.folder)
    params = resolve_params(entry, options.params, options.entry_point)
    declared = _data_paths(loaded, options.entry_point, params)
    data = digest_data(declared, loaded.folder)
    store = _local_store(tracking_uri) if tracking_uri else None
    exclude = [Path(d.location) for d in data] + ([store] if store else [])
    source = _git.describe_source(loaded.folder, exclude)
    manager = _manager(loaded, options.env_manager)
    return PreparedRun(
        options.uri, loaded, options.entry_point, params, format_command(entry, params), data,
        source, git_url, options.version, manager,
    )  # fmt: skip


def build_environment(prepared: PreparedRun, cache_dir: Path, log: Log) -> BuiltEnv | None:
    """The environment to run in (None for docker: the image is the environment)."""
    manager, project = prepared.manager, prepared.loaded.project
    if manager == "local":
        return local_env()
    if manager == "docker":
        if project.docker_env is None:
            raise InvalidParameter("--env-manager docker needs a docker_env in the project file.")
        return None
    if manager == "conda":
        if project.conda_env is None:
            raise InvalidParameter("--env-manager conda needs a conda_env in the project file.")
        return build_conda_env(project.conda_env, prepared.folder, cache_dir, log)
    env = project.python_env
    if env is None:
        raise InvalidParameter("--env-manager virtualenv needs a python_env in the project file.")
    lines = requirement_lines(env, prepared.folder)
    return build_virtualenv(lines, cache_dir, env.python, env.system_site_packages, log)


def _child_uri(uri: str) -> str:
    """The tracking URI as the command sees it from its own working directory."""
    if is_remote(uri) or ("://" in uri and not uri.startswith(("file://", "sqlite:///"))):
        return uri
    if uri.startswith("sqlite:///"):
        return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).resolve())
    return str(Path(uri.removeprefix("file://")).resolve())


def _local_store(uri: str) -> Path | None:
    child = _child_uri(uri)
    if "://" not in child:
        return Path(child)
    if child.startswith("sqlite:///"):
        return Path(child.removeprefix("sqlite:///")).parent
    return None


def record(prepared: PreparedRun, env: BuiltEnv | None) -> dict[str, Any]:
    """``project.json``: what ``shipyard reproduce`` needs to run this again."""
    src = prepared.source
    source: dict[str, Any] = {"kind": "folder", "path": str(prepared.folder)}
    if src is not None:
        repo = prepared.git_url or str(src.root)
        source = {
            "kind": "git", "repo": repo, "remote": src.remote, "commit": src.commit,
            "subdir": src.subdir, "dirty": src.dirty, "version": prepared.version,
            "left_out": list(src.left_out),
        }  # fmt: skip
    project_file = prepared.loaded.file
    return {
        "format": FORMAT_VERSION,
        "uri": prepared.uri,
        "project_file": project_file.name if project_file else None,
        "entry_point": prepared.entry_point,
        "params": prepared.params,
        "command": prepared.command,
        "source": source,
        "environment": env.to_dict() if env else {"manager": prepared.manager},
        "data": [{**d.to_dict(), "tracked": prepared.tracked(d)} for d in prepared.data],
    }


def _record(client: Client, run_id: str, prepared: PreparedRun, env: BuiltEnv | None) -> None:
    recorded = record(prepared, env)
    log_run_text(client, run_id, json.dumps(recorded, indent=2), "shipyard/project.json")
    if prepared.loaded.file is not None:
        log_run_artifact(client, run_id, prepared.loaded.file, "shipyard")
    if prepared.source is not None and prepared.source.patch:
        log_run_text(
            client,
            run_id,
            prepared.source.patch.decode(errors="surrogateescape"),
            "shipyard/git.patch",
        )
    if env is not None:
        log_run_text(client, run_id, env.lock, "shipyard/environment/lock.txt")
    project = prepared.loaded.project
    tags = {
        "mlflow.source.type": "PROJECT",
        "mlflow.source.name": prepared.uri,
        "mlflow.project.entryPoint": prepared.entry_point,
        "mlflow.project.env": prepared.manager,
        "shipyard.project.name": project.name or prepared.folder.name,
        "shipyard.project.command": prepared.command,
    }
    if prepared.source is not None:
        tags["mlflow.source.git.commit"] = prepared.source.commit
        tags["shipyard.source.git.dirty"] = str(prepared.source.dirty).lower()
        if prepared.source.remote or prepared.git_url:
            tags["mlflow.source.git.repoURL"] = prepared.git_url or prepared.source.remote or ""
    params = [Param(k, v) for k, v in prepared.params.items()]
    client.log_batch(run_id, params=params, tags=[Tag(k, v) for k, v in tags.items()])
    if prepared.data:
        inputs = [
            DatasetInput(
                Dataset(d.path, d.sha256[:16], "local", d.location),
                (Tag("mlflow.data.context", "training"),),
            )
            for d in prepared.data
        ]
        client.log_inputs(run_id, inputs)


def _env_vars(client: Client, run_id: str, experiment_id: str) -> dict[str, str]:
    uri = _child_uri(client.tracking_uri)
    return {
        "SHIPYARD_TRACKING_URI": uri,
        "SHIPYARD_RUN_ID": run_id,
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_RUN_ID": run_id,
        "MLFLOW_EXPERIMENT_ID": experiment_id,
        "PYTHONUNBUFFERED": "1",
    }


def _status(code: int, killed: bool) -> str:
    if killed:
        return RunStatus.KILLED.value
    return RunStatus.FINISHED.value if code == 0 else RunStatus.FAILED.value


def execute(
    client: Client,
    prepared: PreparedRun,
    env: BuiltEnv | None,
    run_id: str,
    out: Output,
    log: Log,
) -> RunOutcome:
    """Record the project on ``run_id``, run its command, and end the run as the command ended.

    Anything that stops this before the command ends (Ctrl-C while recording, an upload that
    fails) still ends the run: KILLED or FAILED, never left RUNNING.
    """
    experiment_id = client.get_run(run_id).info.experiment_id
    try:
        code, killed = _record_and_run(client, prepared, env, run_id, experiment_id, out, log)
    except KeyboardInterrupt:
        client.set_terminated(run_id, RunStatus.KILLED.value)
        raise
    except BaseException:
        client.set_terminated(run_id, RunStatus.FAILED.value)
        raise
    status = _status(code, killed)
    client.set_tag(run_id, "shipyard.exit_code", code)
    client.set_terminated(run_id, status)
    return RunOutcome(run_id, experiment_id, status, code)


def _record_and_run(
    client: Client,
    prepared: PreparedRun,
    env: BuiltEnv | None,
    run_id: str,
    experiment_id: str,
    out: Output,
    log: Log,
) -> tuple[int, bool]:
    _record(client, run_id, prepared, env)
    passed = _env_vars(client, run_id, experiment_id)
    base = {k: v for k, v in os.environ.items() if not k.endswith("_RUN_ID")}
    with tempfile.TemporaryDirectory(prefix="shipyard-run-") as scratch:
        output = Path(scratch) / "output.log"
        if env is None:
            code, killed = _run_docker(client, prepared, run_id, passed, out, log, output)
        else:
            shell = "bash" if shutil.which("bash") else "sh"
            child_env = env.child_env({**base, **passed})
            log(f"running {prepared.command!r} in {prepared.folder}")
            code, killed = stream(
                [shell, "-c", prepared.command], prepared.folder, child_env, out, output
            )
        if output.exists():
            log_run_artifact(client, run_id, output, "shipyard")
    return code, killed


def _run_docker(
    client: Client,
    prepared: PreparedRun,
    run_id: str,
    passed: dict[str, str],
    out: Output,
    log: Log,
    output: Path,
) -> tuple[int, bool]:
    docker_env = prepared.loaded.project.docker_env
    assert docker_env is not None
    store = _local_store(client.tracking_uri)
    cmd = docker_command(docker_env, prepared.folder, prepared.command, passed, store)
    log_run_text(client, run_id, render(cmd) + "\n", "shipyard/docker_command.txt")
    ok, why = docker_available()
    if not ok:
        client.set_tag(run_id, "shipyard.docker", "unavailable")
        log(
            f"docker is not available ({why}): the command was NOT run. It is recorded in the "
            f"run's shipyard/docker_command.txt:\n  {render(cmd)}"
        )
        return 1, False
    log(f"running in docker image {docker_env.image}")
    result = stream(cmd, prepared.folder, {**os.environ}, out, output)
    ident = image_id(docker_env.image)  # after the run: `docker run` pulls a missing image
    if ident:
        client.set_tag(run_id, "shipyard.docker.image_id", ident)
        lock = f"{docker_env.image} {ident}\n"
        log_run_text(client, run_id, lock, "shipyard/environment/lock.txt")
    return result


def _experiment(client: Client, options: RunOptions) -> str:
    if options.experiment_id:
        return client.get_experiment(options.experiment_id).experiment_id
    if options.experiment_name:
        found = client.get_experiment_by_name(options.experiment_name)
        return found.experiment_id if found else client.create_experiment(options.experiment_name)
    return "0"


def create_run(client: Client, options: RunOptions, prepared: PreparedRun) -> str:
    name = (
        options.run_name
        or f"{prepared.loaded.project.name or prepared.folder.name}-{prepared.entry_point}"
    )
    tags = {"mlflow.user": client.settings.user, **options.tags}
    if client.settings.run_id:  # started by another project's command: a step of its run
        tags["mlflow.parentRunId"] = client.settings.run_id
    return client.create_run(_experiment(client, options), name, tags).info.run_id


def run_project(
    client: Client, options: RunOptions, out: Output = sys.stdout, log: Log = print
) -> RunOutcome:
    """``shipyard run``: check, build, record, run (a git URL is cloned into a temp folder)."""
    cache_dir = options.cache_dir or Path(client.settings.env_cache_dir)
    with tempfile.TemporaryDirectory(prefix="shipyard-clone-") as scratch:
        clone_dir = None
        if _git.is_git_url(options.uri):
            url, _ = _git.split_git_url(options.uri)
            log(f"cloning {url}")
            clone_dir = _git.clone(url, Path(scratch) / "project", options.version)
        prepared = prepare(options, clone_dir, client.tracking_uri)
        if prepared.source is not None and prepared.source.left_out:
            left_out = ", ".join(prepared.source.left_out)
            log(f"untracked files too large for the patch (reproduce will lack them): {left_out}")
        env = build_environment(prepared, cache_dir, log)
        run_id = create_run(client, options, prepared)
        return execute(client, prepared, env, run_id, out, log)
