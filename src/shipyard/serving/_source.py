"""What the server serves: a fixed model, or whatever version a registry alias points to.

``models:/<name>@<alias>`` is *followed*: a ``Resolver`` answers which version the alias names
now, and the server reloads when that changes. Every other URI is served as loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from shipyard.errors import NotFound
from shipyard.inference_log._table import ProbaFn
from shipyard.models import PyFuncModel
from shipyard.models._ref import ModelRef, parse_model_uri

__all__ = [
    "DictResolver",
    "Loader",
    "ModelRef",
    "RegistryResolver",
    "Resolver",
    "Served",
    "load_served",
    "parse_model_uri",
]

Loader = Callable[[str], PyFuncModel]


class Resolver(Protocol):
    """Which version an alias names now: ``(version, uri to load it from)``."""

    def resolve(self, name: str, alias: str) -> tuple[str, str]: ...


@dataclass(frozen=True, slots=True)
class Served:
    """One loaded model version: what a request reads once, so a swap never splits a request."""

    name: str
    version: str
    uri: str
    model: PyFuncModel
    columns: tuple[str, ...] | None  # the signature's column names, if column-based
    numeric: bool  # every signature column is float/double (fast JSON -> NumPy path)
    proba: ProbaFn | None
    # ``columns`` as a pandas Index, built once: a request naming exactly these columns reuses
    # it (building an Index per request costs more than the rest of decoding a one-row table)
    column_index: pd.Index | None = None


def load_served(name: str, version: str, uri: str, loader: Loader) -> Served:
    model = loader(uri)
    signature = model.signature
    inputs = signature.inputs if signature is not None else None
    columns: tuple[str, ...] | None = None
    numeric = False
    if inputs is not None and inputs.specs and not inputs.is_tensor and all(inputs.names):
        columns = tuple(str(n) for n in inputs.names)
        numeric = all(getattr(s, "type", "") in ("double", "float") for s in inputs.specs)
    version = version or str(model.metadata.model_uuid or "0")[:12]
    # object dtype: scikit-learn reads the feature names of every request, and iterating
    # pandas' default Arrow-backed strings costs it ~50 us more per one-row request
    index = pd.Index(list(columns), dtype=object) if columns is not None else None
    return Served(name, version, uri, model, columns, numeric, _proba_fn(model, columns), index)


def _proba_fn(model: PyFuncModel, columns: tuple[str, ...] | None) -> ProbaFn | None:
    """Class probabilities for the log, when the model is a classifier predicting labels."""
    raw: Any = model.unwrap()
    predict_fn = str(model.metadata.pyfunc.get("predict_fn") or "predict")
    classes = getattr(raw, "classes_", None)
    if (
        predict_fn != "predict"
        or classes is None
        or not callable(getattr(raw, "predict_proba", None))
    ):
        return None
    labels = [str(c) for c in classes]

    def proba(frame: Any) -> tuple[list[str], Any]:
        data = frame[list(columns)] if columns is not None else frame
        return labels, raw.predict_proba(data)

    return proba


class DictResolver:
    """Aliases from a mapping ``{(name, alias): (version, uri)}``: tests and fixed set-ups."""

    def __init__(self, aliases: Mapping[tuple[str, str], tuple[str, str]] | None = None) -> None:
        self.aliases: dict[tuple[str, str], tuple[str, str]] = dict(aliases or {})

    def set(self, name: str, alias: str, version: str, uri: str) -> None:
        self.aliases[(name, alias)] = (version, uri)

    def resolve(self, name: str, alias: str) -> tuple[str, str]:
        try:
            return self.aliases[(name, alias)]
        except KeyError:
            raise NotFound(f"Registered model {name!r} has no alias {alias!r}") from None


class RegistryResolver:
    """Aliases from the model registry of ``tracking_uri`` (a server or a local store)."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        from shipyard.client import Client

        self._client = Client(tracking_uri)
        self.tracking_uri = tracking_uri

    def resolve(self, name: str, alias: str) -> tuple[str, str]:
        version = str(self._client.get_model_version_by_alias(name, alias).version)
        return version, f"models:/{name}/{version}"
