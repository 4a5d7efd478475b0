"""Batch scoring: files and folders of CSV/Parquet (and SQL tables) through one model, in
parallel and resumably, writing the same inference log as the scoring server."""

from shipyard.batch._job import BatchResult, predict
from shipyard.batch._spark import spark_udf
from shipyard.batch._sql import predict_sql

__all__ = ["BatchResult", "predict", "predict_sql", "spark_udf"]
