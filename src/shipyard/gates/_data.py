"""Reading the evaluation data: Parquet or CSV, by the file's extension."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shipyard.errors import InvalidParameter

__all__ = ["read_eval_data"]


def read_eval_data(path: str | Path) -> pd.DataFrame:
    file = Path(path)
    if not file.is_file():
        raise InvalidParameter(f"No evaluation data at {str(file)!r}")
    suffix = file.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(file)
        if suffix == ".csv":
            return pd.read_csv(file)
    except (OSError, ValueError) as exc:
        raise InvalidParameter(f"Cannot read the evaluation data {str(file)!r}: {exc}") from None
    raise InvalidParameter(f"Evaluation data must be a .parquet or .csv file, not {file.name!r}")
