"""RestStore: the tracking store protocol over MLflow's REST API (a Shipyard or MLflow server).

One keep-alive HTTP connection pool per store. Errors come back as the server's MLflow error
body and are raised as the same ``shipyard.errors`` classes the in-process store raises, so SDK
code catches one set of exceptions whichever backend is behind it. Overload and gateway answers
(429, 502, 503, 504) and dropped connections are retried with bounded exponential backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from shipyard import wire
from shipyard._version import __version__
from shipyard.client._rest_models import LoggedModelRest
from shipyard.entities import DatasetInput, Experiment, Metric, Param, Run, RunInfo, Tag, ViewType
from shipyard.errors import (
    ExperimentNotFound,
    NotFound,
    RunNotFound,
    ShipyardError,
    error_for_code,
)
from shipyard.settings import Settings
from shipyard.store._protocol import Page, RunQuery

__all__ = ["RETRY_STATUSES", "RestStore"]

Json = dict[str, Any]
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# What a server answers when it did not act on a request (a gateway's 502 or 504 may come
# after the server did): the only statuses a call that creates something is retried on.
_REFUSED_STATUSES = frozenset({429, 503})
_API = "/api/2.0/mlflow/"
_MAX_BACKOFF = 10.0


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return min(float(value), _MAX_BACKOFF)
    except ValueError:
        return None


def _raise_for(response: httpx.Response) -> None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error_code"), str):
        raise error_for_code(body["error_code"], str(body.get("message", "")))
    text = response.text[:200]
    raise ShipyardError(f"HTTP {response.status_code} from {response.request.url}: {text}")


def _json_object(response: httpx.Response) -> Json:
    if not response.content:
        return {}
    try:
        result = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ShipyardError(
            f"The server at {response.request.url} answered 200 with a body that is not JSON: "
            f"{response.text[:100]!r}"
        ) from None
    return result if isinstance(result, dict) else {}


@contextmanager
def _not_found_as(cls: type[NotFound]) -> Iterator[None]:
    """The wire has one RESOURCE_DOES_NOT_EXIST; the call knows whether a run or an experiment."""
    try:
        yield
    except NotFound as exc:
        if type(exc) is NotFound:
            raise cls(exc.message) from None
        raise


class RestStore(LoggedModelRest):
    """Implements ``TrackingStore`` by calling a tracking server at ``base_url``.

    The logged-model methods come from ``LoggedModelRest``.
    """

    def __init__(
        self,
        base_url: str,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = 5,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._max_retries = max_retries
        self._backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url + _API,
            timeout=settings.http_timeout,
            transport=transport,
            headers={"User-Agent": f"shipyard/{__version__}", "Accept": "application/json"},
        )

    @property
    def http(self) -> httpx.Client:
        """The keep-alive connection pool, shared with artifact transfers to the same server."""
        return self._http

    def close(self) -> None:
        self._http.close()

    # -- transport ----------------------------------------------------------------------------
    def _send(self, method: str, endpoint: str, body: Json | None, params: Any) -> httpx.Response:
        content = None if body is None else orjson.dumps(body)
        headers = None if body is None else {"Content-Type": "application/json"}
        return self._http.request(method, endpoint, content=content, params=params, headers=headers)

    def _call(
        self,
        method: str,
        endpoint: str,
        body: Json | None = None,
        params: Any = None,
        once: bool = False,
    ) -> Json:
        """One API call, retried with backoff while the server is unreachable or overloaded.

        A call made ``once`` (it creates something: sent twice, it would make two runs, or
        answer "already exists" for the experiment the first attempt created) is sent again
        only when the first attempt cannot have reached the server: the connection was never
        made, or the server answered 429 or 503, refusing it. Every other call is idempotent
        (a repeated batch stores each point once) and is retried on any transport error.
        """
        for attempt in range(self._max_retries + 1):
            last = attempt == self._max_retries
            delay = min(self._backoff * 2**attempt, _MAX_BACKOFF)
            try:
                response = self._send(method, endpoint, body, params)
            except httpx.TransportError as exc:
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if once and not unsent:
                    raise ShipyardError(
                        f"The connection to {self.base_url} failed during {endpoint} ({exc}); "
                        "the server may have done it: check before trying again."
                    ) from exc
                if last:
                    raise ShipyardError(
                        f"Could not reach the tracking server at {self.base_url}: {exc}"
                    ) from exc
                self._sleep(delay)
                continue
            statuses = _REFUSED_STATUSES if once else RETRY_STATUSES
            if response.status_code in statuses and not last:
                self._sleep(_retry_after(response) or delay)
                continue
            if response.status_code != 200:
                _raise_for(response)
            return _json_object(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _post(self, endpoint: str, body: Json, once: bool = False) -> Json:
        return self._call("POST", endpoint, body=body, once=once)

    def _get(self, endpoint: str, params: Mapping[str, Any]) -> Json:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._call("GET", endpoint, params=clean)

    # -- experiments --------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[Tag] = ()
    ) -> str:
        body: Json = {"name": name, "tags": wire.tags_to_json(tags)}
        if artifact_location:
            body["artifact_location"] = artifact_location
        return str(self._post("experiments/create", body, once=True)["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        with _not_found_as(ExperimentNotFound):
            out = self._get("experiments/get", {"experiment_id": experiment_id})
        return wire.experiment_from_json(out["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            out = self._get("experiments/get-by-name", {"experiment_name": name})
        except NotFound:
            return None
        return wire.experiment_from_json(out["experiment"])

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        body: Json = {
            "view_type": ViewType(view_type).value,
            "max_results": max_results,
            "order_by": list(order_by),
        }
        if filter_string:
            body["filter"] = filter_string
        if page_token:
            body["page_token"] = page_token
        out = self._post("experiments/search", body)
        items = [wire.experiment_from_json(e) for e in out.get("experiments") or ()]
        return Page(items, out.get("next_page_token") or None)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        with _not_found_as(ExperimentNotFound):
            self._post("experiments/update", {"experiment_id": experiment_id, "new_name": new_name})

    def delete_experiment(self, experiment_id: str) -> None:
        with _not_found_as(ExperimentNotFound):
            self._post("experiments/delete", {"experiment_id": experiment_id})

    def restore_experiment(self, experiment_id: str) -> None:
        with _not_found_as(ExperimentNotFound):
            self._post("experiments/restore", {"experiment_id": experiment_id})

    def set_experiment_tag(self, experiment_id: str, tag: Tag) -> None:
        body = {"experiment_id": experiment_id, "key": tag.key, "value": tag.value}
        with _not_found_as(ExperimentNotFound):
            self._post("experiments/set-experiment-tag", body)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        with _not_found_as(ExperimentNotFound):
            self._post(
                "experiments/delete-experiment-tag", {"experiment_id": experiment_id, "key": key}
            )

    # -- runs ---------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: Sequence[Tag] = (),
        run_name: str | None = None,
    ) -> Run:
        body: Json = {
            "experiment_id": experiment_id,
            "user_id": user_id,
            "start_time": start_time,
            "tags": wire.tags_to_json(tags),
        }
        if run_name:
            body["run_name"] = run_name
        with _not_found_as(ExperimentNotFound):
            out = self._post("runs/create", body, once=True)
        return wire.run_from_json(out["run"])

    def get_run_info(self, run_id: str) -> RunInfo:
        return self.get_run(run_id).info

    def get_run_tags(self, run_id: str) -> dict[str, str]:
        return self.get_run(run_id).data.tags

    def get_run_experiment_tags(self, run_id: str) -> dict[str, str]:
        return self.get_experiment(self.get_run_info(run_id).experiment_id).tags

    def get_run(self, run_id: str) -> Run:
        with _not_found_as(RunNotFound):
            out = self._get("runs/get", {"run_id": run_id, "run_uuid": run_id})
        return wire.run_from_json(out["run"])

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        body: Json = {"run_id": run_id, "run_uuid": run_id}
        for key, value in (("status", status), ("end_time", end_time), ("run_name", run_name)):
            if value is not None:
                body[key] = value
        with _not_found_as(RunNotFound):
            out = self._post("runs/update", body)
        return wire.run_info_from_json(out["run_info"])

    def update_run_info_unless(
        self,
        experiment_tag: str,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo | None:
        # Two requests, not one: the server would check the policy too, but its error would
        # come back as the base class, and the SDK raises the same error on both transports.
        if experiment_tag in self.get_run_experiment_tags(run_id):
            return None
        return self.update_run_info(run_id, status, end_time, run_name)

    def delete_run(self, run_id: str) -> None:
        with _not_found_as(RunNotFound):
            self._post("runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        with _not_found_as(RunNotFound):
            self._post("runs/restore", {"run_id": run_id})

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        body: Json = {
            "run_id": run_id,
            "metrics": [wire.metric_to_json(m) for m in metrics],
            "params": [{"key": p.key, "value": p.value} for p in params],
            "tags": wire.tags_to_json(tags),
        }
        with _not_found_as(RunNotFound):
            self._post("runs/log-batch", body)

    def delete_tag(self, run_id: str, key: str) -> None:
        with _not_found_as(RunNotFound):
            self._post("runs/delete-tag", {"run_id": run_id, "key": key})

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[Metric]:
        page = self.get_metric_history_json(run_id, key, max_results, page_token)
        return Page([wire.metric_from_json(m) for m in page.items], page.next_page_token)

    def get_metric_history_json(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> Page[Json]:
        params = {
            "run_id": run_id,
            "metric_key": key,
            "max_results": max_results,
            "page_token": page_token or None,
        }
        with _not_found_as(RunNotFound):
            out = self._get("metrics/get-history", params)
        return Page(list(out.get("metrics") or ()), out.get("next_page_token") or None)

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), model_ids: Sequence[str] = ()
    ) -> None:
        body: Json = {
            "run_id": run_id,
            "datasets": [wire.dataset_input_to_json(d) for d in datasets],
            "models": [{"model_id": m} for m in model_ids],
        }
        with _not_found_as(RunNotFound):
            self._post("runs/log-inputs", body)

    def log_outputs(self, run_id: str, models: Sequence[tuple[str, int]]) -> None:
        body = {"run_id": run_id, "models": [{"model_id": m, "step": s} for m, s in models]}
        with _not_found_as(RunNotFound):
            self._post("runs/outputs", body)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        query = RunQuery(
            experiment_ids, filter_string, view_type, max_results, order_by, page_token
        )
        page = self.search_runs_json(query)
        return Page([wire.run_from_json(r) for r in page.items], page.next_page_token)

    def search_runs_json(self, query: RunQuery) -> Page[Json]:
        body: Json = {
            "experiment_ids": [str(e) for e in query.experiment_ids],
            "run_view_type": ViewType(query.view_type).value,
            "max_results": query.max_results,
            "order_by": list(query.order_by),
        }
        if query.filter_string:
            body["filter"] = query.filter_string
        if query.page_token:
            body["page_token"] = query.page_token
        out = self._post("runs/search", body)
        return Page(list(out.get("runs") or ()), out.get("next_page_token") or None)
