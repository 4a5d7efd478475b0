"""A tiny keep-alive HTTP/1.1 client for MLflow's REST API 2.0 (stdlib only).

One `Api` object holds one TCP connection to 127.0.0.1, like a `requests.Session` in
MLflow's own client. Bodies are JSON, encoded with the stdlib `json` module as the MLflow
client does. By default the connection is `http.client`'s; with `wire=True` it is
`WireConnection`, a socket that writes each request in one `sendall` and reads the answer by
its length, so a latency measured through it is mostly the server's (`http.client` spends
~70 us of its own on a small request here, most of it parsing the response's headers).
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from typing import Any

PREFIX = "/api/2.0/mlflow"
JsonDict = dict[str, Any]


class ApiError(RuntimeError):
    """A non-200 answer from the server under test."""


class WireConnection:
    """The part of `http.client.HTTPConnection` that `Api` uses, over a plain socket: one
    keep-alive connection with TCP_NODELAY; a request is one `sendall`; the answer is read by
    its Content-Length or its chunks. Closed by the server, it raises as `http.client` does,
    so `Api` reconnects the same way."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self.status = 0

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._buf = None, bytearray()

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self._sock is None:
            self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        self._sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + (body or b""))
        return self._response()

    def _fill(self) -> None:
        assert self._sock is not None
        chunk = self._sock.recv(262144)
        if not chunk:
            raise http.client.RemoteDisconnected("the server closed the connection")
        self._buf += chunk

    def _take_line(self) -> bytes:
        while (end := self._buf.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(self._buf[:end])
        del self._buf[: end + 2]
        return line

    def _take(self, size: int) -> bytes:
        while len(self._buf) < size:
            self._fill()
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def _response(self) -> tuple[int, bytes]:
        status = int(self._take_line().split(b" ", 2)[1])
        fields: dict[bytes, bytes] = {}
        while line := self._take_line():
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while size := int(self._take_line().split(b";")[0], 16):
                parts.append(self._take(size))
                self._take_line()
            while self._take_line():  # trailers, then the blank line
                pass
            payload = b"".join(parts)
        else:
            payload = self._take(int(fields.get(b"content-length", b"0")))
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, payload


class Api:
    """One keep-alive connection; with `fresh=True`, a new TCP connection per request; with
    `wire=True`, a `WireConnection` instead of `http.client`'s."""

    fresh_default = False  # set by --connection fresh

    def __init__(
        self, port: int, timeout: float = 300.0, fresh: bool | None = None, wire: bool = False
    ) -> None:
        self.port = port
        self.timeout = timeout
        self.fresh = self.fresh_default if fresh is None else fresh
        self.wire = wire
        self._conn: http.client.HTTPConnection | WireConnection = self._connect()

    def _connect(self) -> http.client.HTTPConnection | WireConnection:
        if self.wire:
            return WireConnection(self.port, self.timeout)
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
                if isinstance(self._conn, WireConnection):
                    status, payload = self._conn.request(method, path, data, headers)
                else:
                    self._conn.request(method, path, body=data, headers=headers)
                    resp = self._conn.getresponse()
                    status, payload = resp.status, resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once.
                self._conn.close()
                self._conn = self._connect()
                if attempt == 2:
                    raise
        if status != 200:
            raise ApiError(f"{method} {path} -> {status}: {payload[:300]!r}")
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
