"""Settings read S3's configuration from the environment, hand it to workers, and keep secrets
out of ``repr``."""

from __future__ import annotations

import pytest

from shipyard.settings import S3Settings, Settings


def test_s3_settings_from_env_prefer_shipyard_names() -> None:
    env = {
        "SHIPYARD_S3_ENDPOINT_URL": "http://minio:9000",
        "MLFLOW_S3_ENDPOINT_URL": "http://ignored:1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t",
        "MLFLOW_S3_IGNORE_TLS": "true",
    }
    s3 = Settings.from_env(env).s3
    assert s3 == S3Settings("http://minio:9000", "eu-west-1", "AKIA", "s3cr3t", None, False)
    assert "s3cr3t" not in repr(s3) and "s3cr3t" not in repr(Settings(s3=s3))


def test_mlflow_and_aws_endpoint_names_are_understood() -> None:
    assert S3Settings.from_env({"MLFLOW_S3_ENDPOINT_URL": "http://a"}).endpoint_url == "http://a"
    assert S3Settings.from_env({"AWS_ENDPOINT_URL": "http://b"}).endpoint_url == "http://b"
    assert S3Settings.from_env({}) == S3Settings()  # boto3's own chain decides


def test_workers_get_the_same_s3_settings() -> None:
    s3 = S3Settings("http://minio:9000", "us-east-1", "AKIA", "s3cr3t", "token", False)
    env = Settings(artifact_root="s3://bucket/prefix", s3=s3).to_env()
    back = Settings.from_env(env)
    assert back.s3 == s3 and back.artifact_root == "s3://bucket/prefix"
    assert "AWS_ACCESS_KEY_ID" not in Settings().to_env()  # unset stays unset


def test_artifact_fsync_is_off_unless_asked_for() -> None:
    assert Settings.from_env({}).artifact_fsync is False
    on = Settings.from_env({"SHIPYARD_ARTIFACT_FSYNC": "true"})
    assert on.artifact_fsync is True and Settings.from_env(on.to_env()).artifact_fsync is True


def test_kept_bodies_memory_defaults_to_64_mib_and_round_trips() -> None:
    assert Settings.from_env({}).kept_bodies_mb == 64
    none = Settings.from_env({"SHIPYARD_KEPT_BODIES_MB": "0"})
    assert none.kept_bodies_mb == 0 and Settings.from_env(none.to_env()).kept_bodies_mb == 0


@pytest.mark.parametrize("value", ["-1", "lots", "1.5"])
def test_a_bad_kept_bodies_size_names_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match=r"SHIPYARD_KEPT_BODIES_MB.*0 or more"):
        Settings.from_env({"SHIPYARD_KEPT_BODIES_MB": value})
