"""Turning a pandas DataFrame or pyarrow Table into a logged dataset with a content digest."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shipyard.entities import Dataset, DatasetInput, Tag
from shipyard.errors import InvalidParameter

__all__ = ["dataset_input"]

_ARROW_TO_MLFLOW = {
    "int8": "integer", "int16": "integer", "int32": "integer", "int64": "long",
    "uint8": "integer", "uint16": "integer", "uint32": "long", "uint64": "long",
    "float": "float", "halffloat": "float", "double": "double", "bool": "boolean",
    "string": "string", "large_string": "string", "binary": "binary",
}  # fmt: skip


def _to_arrow(data: Any) -> Any:
    # pandas and pyarrow load on first use: `import shipyard` stays fast for training scripts.
    import pandas as pd
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise InvalidParameter(
        f"log_input takes a pandas DataFrame or a pyarrow Table, not {type(data).__name__}."
    )


def _digest(table: Any) -> str:
    """SHA-256 over the Arrow IPC bytes: same content and schema, same digest."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]


def _schema(table: Any) -> str:
    cols = [
        {"type": _ARROW_TO_MLFLOW.get(str(f.type), "string"), "name": f.name, "required": True}
        for f in table.schema
    ]
    return json.dumps({"mlflow_colspec": cols})


def dataset_input(
    data: Any,
    name: str | None = None,
    source: str | None = None,
    context: str | None = None,
    tags: dict[str, str] | None = None,
) -> DatasetInput:
    table = _to_arrow(data)
    digest = _digest(table)
    profile = json.dumps(
        {"num_rows": table.num_rows, "num_elements": table.num_rows * table.num_columns}
    )
    ds = Dataset(
        name=name or f"dataset-{digest[:8]}",
        digest=digest,
        source_type="local" if source else "code",
        source=json.dumps({"uri": source} if source else {"tags": {}}),
        schema=_schema(table),
        profile=profile,
    )
    input_tags = [Tag(k, v) for k, v in (tags or {}).items()]
    if context:
        input_tags.append(Tag("mlflow.data.context", context))
    return DatasetInput(ds, tuple(input_tags))
