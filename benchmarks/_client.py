"""A tiny keep-alive HTTP/1.1 client for MLflow's REST API 2.0 (stdlib only).

One `Api` object holds one TCP connection to 127.0.0.1, like a `requests.Session` in
MLflow's own client. Bodies are JSON, encoded with the stdlib `json` module as the MLflow
client does.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from typing import Any

PREFIX = "/api/2.0/mlflow"
JsonDict = dict[str, Any]


class ApiError(RuntimeError):
    """A non-200 answer from the server under test."""


class Api:
    """One keep-alive connection; with `fresh=True`, a new TCP connection per request."""

    fresh_default = False  # set by --connection fresh

    def __init__(self, port: int, timeout: float = 300.0, fresh: bool | None = None) -> None:
        self.port = port
        self.timeout = timeout
        self.fresh = self.fresh_default if fresh is None else fresh
        self._conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def close(self) -> None:
        self._conn.close()

    def post(self, endpoint: str, body: JsonDict) -> JsonDict:
        return self.post_encoded(endpoint, json.dumps(body).encode())

    def post_encoded(self, endpoint: str, data: bytes) -> JsonDict:
        """A POST of a JSON body already encoded (so a workload can time the request alone)."""
        headers = {"Content-Type": "application/json"}
        return self._send("POST", f"{PREFIX}/{endpoint}", data, headers)

    def get(self, endpoint: str, query: JsonDict) -> JsonDict:
        qs = urllib.parse.urlencode(query, doseq=True)
        return self._send("GET", f"{PREFIX}/{endpoint}?{qs}", None, {})

    def _send(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> JsonDict:
        if self.fresh:
            self._conn.close()  # http.client reconnects on the next request
        for attempt in (1, 2):
            try:
                self._conn.request(method, path, body=data, headers=headers)
                resp = self._conn.getresponse()
                payload = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once.
                self._conn.close()
                self._conn = self._connect()
                if attempt == 2:
                    raise
        if resp.status != 200:
            raise ApiError(f"{method} {path} -> {resp.status}: {payload[:300]!r}")
        result: JsonDict = json.loads(payload) if payload else {}
        return result

    # ---------------------------------------------------------------- MLflow calls

    def create_experiment(self, name: str) -> str:
        return str(self.post("experiments/create", {"name": name})["experiment_id"])

    def create_run(self, experiment_id: str, name: str, tags: list[JsonDict] | None = None) -> str:
        body = {
            "experiment_id": experiment_id,
            "run_name": name,
            "start_time": now_ms(),
            "tags": tags or [],
        }
        info = self.post("runs/create", body)["run"]["info"]
        return str(info["run_id"])

    def log_batch(self, run_id: str, **fields: list[JsonDict]) -> None:
        self.post_encoded("runs/log-batch", self.log_batch_body(run_id, **fields))

    @staticmethod
    def log_batch_body(run_id: str, **fields: list[JsonDict]) -> bytes:
        """A log-batch's JSON body, as ``log_batch`` sends it."""
        return json.dumps({"run_id": run_id, "run_uuid": run_id, **fields}).encode()

    def log_metric(self, run_id: str, key: str, value: float, step: int) -> None:
        body = {
            "run_id": run_id,
            "run_uuid": run_id,
            "key": key,
            "value": value,
            "timestamp": now_ms(),
            "step": step,
        }
        self.post("runs/log-metric", body)

    def finish_run(self, run_id: str) -> None:
        body = {"run_id": run_id, "run_uuid": run_id, "status": "FINISHED", "end_time": now_ms()}
        self.post("runs/update", body)


def now_ms() -> int:
    return int(time.time() * 1000)


def metric(key: str, value: float, step: int, ts: int | None = None) -> JsonDict:
    return {
        "key": key,
        "value": value,
        "timestamp": ts if ts is not None else now_ms(),
        "step": step,
    }
