"""Searching the SQL registry with MLflow's filter grammar: registered models and versions.

Each clause compiles to SQL; a tag clause is an ``EXISTS`` over the tag table, and ``!=`` on a
tag also matches rows without that tag (MLflow's client filters prompts out with
``tag.`mlflow.prompt.is_prompt` != 'true'``, which must keep every untagged model). Pages are
offsets in an opaque token, ordered by the requested keys, then by name (and version number).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, exists, not_, select

from shipyard.entities import ModelVersion, RegisteredModel
from shipyard.store._protocol import Page
from shipyard.store.search import (
    Comparison,
    OrderBy,
    decode_page_token,
    encode_page_token,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from shipyard.store.sql._registry_base import MV, RM, RegistryBase
from shipyard.store.sql._schema import model_version_tags, registered_model_tags
from shipyard.store.sql._search import compare

__all__ = ["SearchStore"]

_MODEL_COLUMNS: dict[str, Any] = {
    "name": RM.c.name,
    "creation_timestamp": RM.c.creation_time,
    "last_updated_timestamp": RM.c.last_updated_time,
}
_VERSION_COLUMNS: dict[str, Any] = {
    "name": RM.c.name,
    "run_id": MV.c.run_id,
    "source_path": MV.c.source,
    "version_number": MV.c.version,
    "creation_timestamp": MV.c.creation_time,
    "last_updated_timestamp": MV.c.last_updated_time,
}


def _tag_cond(table: Any, owner: list[Any], c: Comparison, dialect: str) -> Any:
    base = [*owner, table.c.key == c.key]
    if c.op == "!=":  # a row without the tag matches too
        return not_(exists().where(*base, table.c.value == c.value))
    return exists().where(*base, compare(table.c.value, c.op, c.value, dialect))


def _cond(c: Comparison, columns: dict[str, Any], tags: Any, owner: list[Any], dialect: str) -> Any:
    if c.kind == "tag":
        return _tag_cond(tags, owner, c, dialect)
    return compare(columns[c.key], c.op, c.value, dialect)


def _ordering(orders: Sequence[OrderBy], columns: dict[str, Any]) -> list[Any]:
    return [columns[o.key].asc() if o.ascending else columns[o.key].desc() for o in orders]


class SearchStore(RegistryBase):
    """``search_registered_models`` and ``search_model_versions``."""

    @staticmethod
    def _page_rows(
        conn: Connection, query: Select[Any], max_results: int, page_token: str | None
    ) -> tuple[list[Any], str | None]:
        offset = decode_page_token(page_token)
        rows = list(conn.execute(query.limit(max_results + 1).offset(offset)))
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return rows[:max_results], token

    def search_registered_models(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> Page[RegisteredModel]:
        dialect, tags = self._dialect(), registered_model_tags
        owner = [tags.c.registered_model_id == RM.c.id]
        query = select(RM)
        for c in parse_registered_model_filter(filter_string):
            query = query.where(_cond(c, _MODEL_COLUMNS, tags, owner, dialect))
        orders = parse_registered_model_order_by(order_by)
        clauses = _ordering(orders, _MODEL_COLUMNS)
        if all(o.key != "name" for o in orders):
            clauses.append(RM.c.name.asc())
        with self._read() as conn:
            rows, token = self._page_rows(conn, query.order_by(*clauses), max_results, page_token)
            return Page(self._models(conn, rows), token)

    def search_model_versions(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: Sequence[str],
        page_token: str | None,
    ) -> Page[ModelVersion]:
        dialect, tags = self._dialect(), model_version_tags
        owner = [
            tags.c.registered_model_id == MV.c.registered_model_id,
            tags.c.version == MV.c.version,
        ]
        query = select(MV, RM.c.name).join(RM, RM.c.id == MV.c.registered_model_id)
        for c in parse_model_version_filter(filter_string):
            query = query.where(_cond(c, _VERSION_COLUMNS, tags, owner, dialect))
        orders = parse_model_version_order_by(order_by)
        clauses = _ordering(orders, _VERSION_COLUMNS)
        keys = {o.key for o in orders}
        if "name" not in keys:
            clauses.append(RM.c.name.asc())
        if "version_number" not in keys:
            clauses.append(MV.c.version.desc())
        with self._read() as conn:
            rows, token = self._page_rows(conn, query.order_by(*clauses), max_results, page_token)
            names = {r.registered_model_id: r.name for r in rows}
            return Page(self._versions(conn, names, rows), token)
