"""Tables as run artifacts, in the format MLflow's client writes and its UI reads.

A ``.json`` table is pandas' ``split`` orientation without the index, ``{"columns": [...],
"data": [[...], ...]}``, dates in ISO 8601; a ``.parquet`` table is Parquet. Logging a table to a
file that exists appends the rows, and the run's ``mlflow.loggedArtifacts`` tag lists the file
with type ``table`` so MLflow's UI shows it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidParameter

if TYPE_CHECKING:  # pandas is imported on first use: a server importing shipyard never needs it
    import pandas as pd

__all__ = [
    "LOGGED_ARTIFACTS_TAG",
    "append_rows",
    "as_frame",
    "read_table",
    "tag_with_table",
    "write_table",
]

LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"
_SUFFIXES = (".json", ".parquet")


def as_frame(data: Any, artifact_file: str) -> pd.DataFrame:
    import pandas as pd

    if not artifact_file.endswith(_SUFFIXES):
        raise InvalidParameter(f"A table file must end in .json or .parquet, not {artifact_file!r}")
    if isinstance(data, pd.DataFrame):
        return data
    if not isinstance(data, Mapping):
        raise InvalidParameter(f"log_table takes a pandas DataFrame or a dict, not {type(data)}")
    try:
        return pd.DataFrame(dict(data))
    except ValueError:  # only scalars ({"question": "Why?"}): one row
        return pd.DataFrame([dict(data)])


def append_rows(existing: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([existing, frame], ignore_index=True)


def write_table(frame: pd.DataFrame, artifact_file: str) -> bytes:
    if artifact_file.endswith(".parquet"):
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    text = frame.to_json(orient="split", index=False, date_format="iso")
    return text.encode("utf-8")


def read_table(data: bytes, artifact_file: str) -> pd.DataFrame:
    import pandas as pd

    if artifact_file.endswith(".parquet"):
        return pd.read_parquet(io.BytesIO(data))
    return pd.read_json(io.StringIO(data.decode("utf-8")), orient="split")


def tag_with_table(tags: Mapping[str, str], artifact_file: str) -> str | None:
    """The new value of ``mlflow.loggedArtifacts`` listing ``artifact_file``, or None if listed."""
    try:
        listed = json.loads(tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
    except ValueError:
        listed = []
    entry = {"path": artifact_file, "type": "table"}
    if not isinstance(listed, list) or entry in listed:
        return None
    return json.dumps([*listed, entry])
