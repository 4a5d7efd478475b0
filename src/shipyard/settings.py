"""One typed settings object: the only module that reads the environment.

``Settings.from_env()`` is called once at a program's edge (the CLI, the SDK's first use) and the
value is passed to constructors from there.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["DEFAULT_DATA_DIR", "KEPT_BODIES_MB", "Limits", "S3Settings", "Settings"]

DEFAULT_DATA_DIR = Path("shipyard-data")


@dataclass(frozen=True, slots=True)
class Limits:
    """MLflow's input limits; a deployment may raise them."""

    max_batch_metrics: int = 1000
    max_batch_params: int = 100
    max_batch_tags: int = 100
    max_batch_total: int = 1000
    max_key_length: int = 250
    max_param_value_length: int = 6000
    max_tag_value_length: int = 8000
    max_experiment_name_length: int = 500
    max_experiment_tag_value_length: int = 20000
    max_search_results: int = 50000
    truncate_long_values: bool = True


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


# The run JSON a server worker may hold between searches (``store.sql._kept_bodies``).
KEPT_BODIES_MB = 64


def _kept_bodies_mb(value: str | None) -> int:
    if value is None or value.strip() == "":
        return KEPT_BODIES_MB
    try:
        mb = int(value)
    except ValueError:
        mb = -1
    if mb < 0:
        raise ValueError(
            f"SHIPYARD_KEPT_BODIES_MB must be a whole number of MiB, 0 or more; got {value!r}"
        )
    return mb


def _default_user(env: Mapping[str, str]) -> str:
    if env.get("SHIPYARD_USER"):
        return env["SHIPYARD_USER"]
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def _cache_dir(env: Mapping[str, str]) -> str:
    root = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return str(root / "shipyard" / "envs")


@dataclass(frozen=True, slots=True)
class S3Settings:
    """How to reach S3 or an S3-compatible server (MinIO, moto); ``None`` lets boto3 decide.

    Credentials left unset fall back to boto3's own chain (profiles, instance roles). Hashable,
    so one boto3 client is shared per distinct configuration; secrets stay out of ``repr``.
    """

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    verify_tls: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Settings:
        def first(*names: str) -> str | None:
            return next((env[n] for n in names if env.get(n)), None)

        return cls(
            endpoint_url=first(
                "SHIPYARD_S3_ENDPOINT_URL",
                "MLFLOW_S3_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_S3",
                "AWS_ENDPOINT_URL",
            ),
            region=first("AWS_REGION", "AWS_DEFAULT_REGION"),
            access_key_id=first("AWS_ACCESS_KEY_ID"),
            secret_access_key=first("AWS_SECRET_ACCESS_KEY"),
            session_token=first("AWS_SESSION_TOKEN"),
            verify_tls=not _flag(first("SHIPYARD_S3_IGNORE_TLS", "MLFLOW_S3_IGNORE_TLS"), False),
        )

    def to_env(self) -> dict[str, str]:
        """The variables ``from_env`` reads back (only those that are set)."""
        named = {
            "SHIPYARD_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
            "SHIPYARD_S3_IGNORE_TLS": None if self.verify_tls else "true",
        }
        return {name: value for name, value in named.items() if value}


@dataclass(frozen=True, slots=True)
class Settings:
    tracking_uri: str | None = None
    backend_store_uri: str = f"sqlite:///{DEFAULT_DATA_DIR}/shipyard.db"
    artifact_root: str = str(DEFAULT_DATA_DIR / "artifacts")
    serve_artifacts: bool = True
    user: str = "unknown"
    limits: Limits = field(default_factory=Limits)
    metric_flush_interval: float = 1.0
    http_timeout: float = 120.0
    s3: S3Settings = field(default_factory=S3Settings)
    artifact_fsync: bool = False  # flush each artifact file the server writes to a folder
    # Model files that can run code when loaded (pickle, cloudpickle, skops types outside the
    # scikit-learn/NumPy/SciPy allowlist) load only when this is on or the caller says trusted=True.
    trust_pickle: bool = False
    # A run to resume on the first top-level start_run(): how `shipyard run` hands its run to the
    # project's command (MLFLOW_RUN_ID too, for scripts written against MLflow).
    run_id: str | None = None
    # Where `shipyard run` keeps the virtualenvs it builds, one folder per exact requirement set.
    env_cache_dir: str = str(Path.home() / ".cache" / "shipyard" / "envs")
    # Registry webhooks may target loopback/private addresses only when this is on.
    webhooks_allow_private: bool = False
    # The inference log (folder or s3:// URI) the server's monitoring routes read; None: no routes.
    inference_log: str | None = None
    # Where monitoring keeps labels, hourly profiles and incidents.
    monitoring_dir: str = str(DEFAULT_DATA_DIR / "monitoring")
    # Memory each server worker may use for the kept run bodies it has read (0: none held).
    kept_bodies_mb: int = KEPT_BODIES_MB

    def to_env(self) -> dict[str, str]:
        """The variables ``from_env`` reads back: how a server hands its settings to workers."""
        return {
            "SHIPYARD_BACKEND_STORE_URI": self.backend_store_uri,
            "SHIPYARD_ARTIFACT_ROOT": self.artifact_root,
            "SHIPYARD_SERVE_ARTIFACTS": "true" if self.serve_artifacts else "false",
            "SHIPYARD_TRUNCATE_LONG_VALUES": str(self.limits.truncate_long_values).lower(),
            "SHIPYARD_MAX_PARAM_VALUE_LENGTH": str(self.limits.max_param_value_length),
            "SHIPYARD_MAX_TAG_VALUE_LENGTH": str(self.limits.max_tag_value_length),
            "SHIPYARD_ARTIFACT_FSYNC": "true" if self.artifact_fsync else "false",
            "SHIPYARD_WEBHOOKS_ALLOW_PRIVATE": "true" if self.webhooks_allow_private else "false",
            "SHIPYARD_INFERENCE_LOG": self.inference_log or "",
            "SHIPYARD_MONITORING_DIR": self.monitoring_dir,
            "SHIPYARD_KEPT_BODIES_MB": str(self.kept_bodies_mb),
            **self.s3.to_env(),
        }

    def export(self) -> None:
        """Write ``to_env()`` into this process's environment (inherited by worker processes)."""
        os.environ.update(self.to_env())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        limits = Limits(
            truncate_long_values=_flag(env.get("SHIPYARD_TRUNCATE_LONG_VALUES"), True),
            max_param_value_length=int(env.get("SHIPYARD_MAX_PARAM_VALUE_LENGTH", "6000")),
            max_tag_value_length=int(env.get("SHIPYARD_MAX_TAG_VALUE_LENGTH", "8000")),
        )
        base = cls(user=_default_user(env), limits=limits)
        return replace(
            base,
            tracking_uri=env.get("SHIPYARD_TRACKING_URI") or env.get("MLFLOW_TRACKING_URI") or None,
            backend_store_uri=env.get("SHIPYARD_BACKEND_STORE_URI", base.backend_store_uri),
            artifact_root=env.get("SHIPYARD_ARTIFACT_ROOT", base.artifact_root),
            serve_artifacts=_flag(env.get("SHIPYARD_SERVE_ARTIFACTS"), True),
            metric_flush_interval=float(env.get("SHIPYARD_METRIC_FLUSH_INTERVAL", "1.0")),
            s3=S3Settings.from_env(env),
            artifact_fsync=_flag(env.get("SHIPYARD_ARTIFACT_FSYNC"), False),
            trust_pickle=_flag(env.get("SHIPYARD_TRUST_PICKLE"), False),
            run_id=env.get("SHIPYARD_RUN_ID") or env.get("MLFLOW_RUN_ID") or None,
            env_cache_dir=env.get("SHIPYARD_ENV_CACHE_DIR") or _cache_dir(env),
            webhooks_allow_private=_flag(env.get("SHIPYARD_WEBHOOKS_ALLOW_PRIVATE"), False),
            inference_log=env.get("SHIPYARD_INFERENCE_LOG") or None,
            monitoring_dir=env.get("SHIPYARD_MONITORING_DIR", base.monitoring_dir),
            kept_bodies_mb=_kept_bodies_mb(env.get("SHIPYARD_KEPT_BODIES_MB")),
        )
