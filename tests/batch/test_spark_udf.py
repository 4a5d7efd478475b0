"""``spark_udf`` in Spark local mode (needs pyspark and a Java runtime; skipped without them)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.pyfunc import load_model

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)


@pytest.mark.slow
def test_spark_udf_scores_like_load_model(
    model: Path, rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import SparkSession

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # workers need shipyard importable

    from shipyard.batch import spark_udf

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("shipyard-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    try:
        part = rows.head(2_000)
        frame = spark.createDataFrame(part).repartition(3)
        score = spark_udf(spark, str(model), "long")
        features = [c for c in part.columns if c != "id"]
        scored = frame.withColumn("prediction", score(*features)).select("id", "prediction")
        result = scored.toPandas().sort_values("id")
    finally:
        spark.stop()
    expected = load_model(model).predict(part.drop(columns="id"))
    assert result["id"].tolist() == part["id"].tolist()
    assert np.array_equal(result["prediction"].to_numpy(), expected)
