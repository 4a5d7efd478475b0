"""Scoring a SQL query into a table (the warehouse case), chunk by chunk through SQLAlchemy."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pandas as pd

from shipyard.batch._worker import log_writer, to_table
from shipyard.errors import InvalidParameter

__all__ = ["predict_sql"]


def predict_sql(
    model_uri: str,
    db_url: str,
    query: str,
    output_table: str,
    *,
    chunk_rows: int = 100_000,
    keep_columns: tuple[str, ...] = (),
    trusted: bool = False,
    tracking_uri: str | None = None,
    log_root: str | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    id_column: str | None = None,
    aggregate_inputs: bool = False,
    on_unit: Callable[[int], None] | None = None,
) -> int:
    """Score the rows of ``query`` into ``output_table`` (replaced); returns the row count.

    The table is written in one transaction: a failure leaves no half-written table behind.
    """
    import sqlalchemy as sa  # imported here: scoring files must not pay for it

    from shipyard.batch._job import _names, pin_alias
    from shipyard.pyfunc import load_model

    model_uri, model_version = pin_alias(model_uri, model_version, tracking_uri)

    model = load_model(model_uri, trusted, tracking_uri=tracking_uri)
    name, version = _names(model_uri, model_name, model_version)
    engine = sa.create_engine(db_url)
    job = uuid.uuid4().hex[:12]
    writer = (
        log_writer(log_root, model_uri, tracking_uri, aggregate_inputs, max_queue_rows=1 << 40)
        if log_root
        else None
    )
    total = 0
    try:
        with engine.begin() as target:
            source = target.execution_options(stream_results=True)  # a server-side cursor
            try:
                chunks = pd.read_sql(sa.text(query), source, chunksize=chunk_rows)
            except sa.exc.SQLAlchemyError as exc:
                raise InvalidParameter(f"The query failed: {exc}") from None
            for number, frame in enumerate(chunks):
                started = time.perf_counter()
                predictions = model.predict(frame)
                out = to_table(predictions, len(frame)).to_pandas()
                for column in reversed(keep_columns):
                    out.insert(0, column, frame[column].to_numpy())
                mode = "replace" if number == 0 else "append"
                out.to_sql(output_table, target, if_exists=mode, index=False)
                if writer is not None:
                    ids = (
                        frame[id_column].astype(str).tolist()
                        if id_column
                        else [f"{job}-{number}-{i}" for i in range(len(frame))]
                    )
                    writer.log(
                        model_name=name, model_version=version, source="batch", request_id=ids,
                        inputs=frame, outputs=predictions, rows=len(frame),
                        latency_ms=(time.perf_counter() - started) * 1000,
                    )  # fmt: skip
                total += len(frame)
                if on_unit is not None:
                    on_unit(len(frame))
    finally:
        engine.dispose()
        if writer is not None:
            writer.close()
    return total
