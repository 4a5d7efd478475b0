"""Small real model packages for the serving tests (imported by name, as tests/models does)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import shipyard.sklearn


def iris_frame() -> tuple[pd.DataFrame, np.ndarray]:
    data, target = load_iris(return_X_y=True, as_frame=True)
    data.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return data, target.to_numpy()


def save_iris(folder: Path, constant: int | None = None) -> Path:
    """An iris classifier; with ``constant`` it always answers that class (tells versions apart)."""
    data, target = iris_frame()
    labels = np.full_like(target, constant) if constant is not None else target
    if constant is not None:
        labels[0] = (constant + 1) % 3  # two classes, so LogisticRegression fits
    model = LogisticRegression(max_iter=500).fit(data, labels)
    shipyard.sklearn.save_model(model, folder, input_example=data.head(3))
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the scoring server did not start")
