"""``spark_udf(spark, uri)``: a pandas UDF that scores Spark columns with a Shipyard model.

The package is read once on the driver and broadcast as a zip, so executors need no access to
the registry or the artifact store; each Python worker unpacks and loads it once, then scores
Arrow batches with the same ``predict()`` (and signature checks) as everywhere else.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.models import PyFuncModel, download_model
from shipyard.settings import Settings

__all__ = ["spark_udf"]

_loaded: dict[str, PyFuncModel] = {}  # per Python worker: package key -> model


def spark_udf(
    spark: Any,
    model_uri: str,
    result_type: str = "double",
    *,
    trusted: bool = False,
    tracking_uri: str | None = None,
    settings: Settings | None = None,
) -> Callable[..., Any]:
    """``udf(*columns)`` -> a Spark column of predictions (``result_type``: a Spark SQL type).

    >>> scores = df.withColumn("score", spark_udf(spark, "models:/fraud@production")(*cols))
    ... # doctest: +SKIP
    """
    try:
        from pyspark.sql.functions import struct
        from pyspark.sql.pandas.functions import pandas_udf
    except ImportError:
        from shipyard.errors import MissingDependency

        raise MissingDependency(
            "spark_udf needs pyspark: pip install 'shipyard-ml[spark]'"
        ) from None
    archive = _zip_package(model_uri, settings or Settings.from_env(), tracking_uri)
    shipped = spark.sparkContext.broadcast(archive)
    key = uuid.uuid4().hex

    @pandas_udf(result_type)  # type: ignore[call-overload,untyped-decorator,misc]
    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.Series]:
        model = _model(key, shipped.value, trusted)
        for batch in batches:
            yield _as_series(model.predict(batch), len(batch))

    def udf(*columns: Any) -> Any:
        return score(struct(*columns))

    return udf


def _zip_package(uri: str, settings: Settings, tracking_uri: str | None) -> bytes:
    with tempfile.TemporaryDirectory(prefix="shipyard-spark-") as scratch:
        folder = download_model(uri, Path(scratch) / "model", settings, tracking_uri)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
        return buffer.getvalue()


def _model(key: str, archive: bytes, trusted: bool) -> PyFuncModel:
    model = _loaded.get(key)
    if model is None:
        from shipyard.pyfunc import load_model

        folder = Path(tempfile.mkdtemp(prefix="shipyard-spark-model-"))
        try:
            with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
                zipped.extractall(folder)
            model = load_model(folder, trusted)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        _loaded[key] = model
    return model


def _as_series(predictions: Any, rows: int) -> pd.Series:
    if isinstance(predictions, pd.DataFrame):
        predictions = predictions.iloc[:, 0]
    if isinstance(predictions, pd.Series):
        return predictions.reset_index(drop=True)
    array = np.asarray(predictions)
    return pd.Series(array.reshape(rows, -1)[:, 0] if array.ndim > 1 else array)
