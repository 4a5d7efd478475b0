"""RestStore's logged-model calls (MLflow 3's ``logged-models`` endpoints), as a mixin.

Params and tags go 100 to a request, as MLflow's own client sends them, so a server with MLflow's
per-request limits accepts any number. Ids and tag keys are URL-quoted into the path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard import wire
from shipyard.entities import DatasetRef, LoggedModel, LoggedModelOrderBy, Param, Tag
from shipyard.errors import LoggedModelNotFound, NotFound
from shipyard.store._protocol import Page

__all__ = ["LoggedModelRest"]

Json = dict[str, Any]
_MODEL_BATCH = 100


@contextmanager
def _model_not_found() -> Iterator[None]:
    """The wire has one RESOURCE_DOES_NOT_EXIST; these calls know it means the model."""
    try:
        yield
    except NotFound as exc:
        if type(exc) is NotFound:
            raise LoggedModelNotFound(exc.message) from None
        raise


class LoggedModelRest:
    """The logged-model half of ``RestStore``; it relies on the host's transport methods."""

    if TYPE_CHECKING:

        def _call(
            self,
            method: str,
            endpoint: str,
            body: Json | None = None,
            params: Any = None,
            once: bool = False,
        ) -> Json: ...
        def _post(self, endpoint: str, body: Json, once: bool = False) -> Json: ...
        def _get(self, endpoint: str, params: Mapping[str, Any]) -> Json: ...

    @staticmethod
    def _model_path(model_id: str, suffix: str = "") -> str:
        return f"logged-models/{quote(model_id, safe='')}{suffix}"

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Sequence[Tag] = (),
        params: Sequence[Param] = (),
        model_type: str | None = None,
    ) -> LoggedModel:
        body: Json = {"experiment_id": experiment_id}
        for key, value in (("name", name), ("source_run_id", source_run_id)):
            if value:
                body[key] = value
        if model_type:
            body["model_type"] = model_type
        body["params"] = [{"key": p.key, "value": p.value} for p in params[:_MODEL_BATCH]]
        body["tags"] = wire.tags_to_json(tags[:_MODEL_BATCH])
        model = wire.logged_model_from_json(self._post("logged-models", body, once=True)["model"])
        if len(params) > _MODEL_BATCH or len(tags) > _MODEL_BATCH:
            self.log_logged_model_params(model.model_id, params[_MODEL_BATCH:])
            self.set_logged_model_tags(model.model_id, tags[_MODEL_BATCH:])
            model = self.get_logged_model(model.model_id)
        return model

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        params = {"allow_deleted": "true"} if allow_deleted else {}
        with _model_not_found():
            out = self._get(self._model_path(model_id), params)
        return wire.logged_model_from_json(out["model"])

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        body = {"model_id": model_id, "status": wire.logged_model_status_to_json(status)}
        with _model_not_found():
            out = self._call("PATCH", self._model_path(model_id), body=body)
        return wire.logged_model_from_json(out["model"])

    def delete_logged_model(self, model_id: str) -> None:
        with _model_not_found():
            self._call("DELETE", self._model_path(model_id), body={"model_id": model_id})

    def set_logged_model_tags(self, model_id: str, tags: Sequence[Tag]) -> None:
        for i in range(0, len(tags), _MODEL_BATCH):
            body = {"tags": wire.tags_to_json(tags[i : i + _MODEL_BATCH])}
            with _model_not_found():
                self._call("PATCH", self._model_path(model_id, "/tags"), body=body)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        path = self._model_path(model_id, f"/tags/{quote(key, safe='')}")
        self._call("DELETE", path)

    def log_logged_model_params(self, model_id: str, params: Sequence[Param]) -> None:
        for i in range(0, len(params), _MODEL_BATCH):
            batch = params[i : i + _MODEL_BATCH]
            body = {
                "model_id": model_id,
                "params": [{"key": p.key, "value": p.value} for p in batch],
            }
            with _model_not_found():
                self._post(self._model_path(model_id, "/params"), body)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[DatasetRef] = (),
        max_results: int = 100,
        order_by: Sequence[LoggedModelOrderBy] = (),
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        body: Json = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "max_results": max_results,
            "datasets": [_dataset_json(d) for d in datasets],
            "order_by": [_order_json(o) for o in order_by],
        }
        if filter_string:
            body["filter"] = filter_string
        if page_token:
            body["page_token"] = page_token
        out = self._post("logged-models/search", body)
        items = [wire.logged_model_from_json(m) for m in out.get("models") or ()]
        return Page(items, out.get("next_page_token") or None)


def _dataset_json(d: DatasetRef) -> Json:
    out: Json = {"dataset_name": d.name}
    if d.digest:
        out["dataset_digest"] = d.digest
    return out


def _order_json(o: LoggedModelOrderBy) -> Json:
    out: Json = {"field_name": o.field, "ascending": o.ascending}
    if o.dataset_name:
        out["dataset_name"] = o.dataset_name
    if o.dataset_digest:
        out["dataset_digest"] = o.dataset_digest
    return out
