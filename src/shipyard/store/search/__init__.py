"""Search filters, order-by clauses and page tokens, as MLflow's clients write them."""

from shipyard.store.search._ast import Comparison, OrderBy
from shipyard.store.search._paging import (
    HistoryCursor,
    decode_history_token,
    decode_page_token,
    encode_history_token,
    encode_page_token,
)
from shipyard.store.search._parser import (
    EntitySpec,
    KindSpec,
    Rule,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_filter,
    parse_logged_model_filter,
    parse_logged_model_order_by,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
    parse_run_filter,
    parse_run_order_by,
)

__all__ = [
    "Comparison",
    "EntitySpec",
    "HistoryCursor",
    "KindSpec",
    "OrderBy",
    "Rule",
    "decode_history_token",
    "decode_page_token",
    "encode_history_token",
    "encode_page_token",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_filter",
    "parse_logged_model_filter",
    "parse_logged_model_order_by",
    "parse_model_version_filter",
    "parse_model_version_order_by",
    "parse_order_by",
    "parse_registered_model_filter",
    "parse_registered_model_order_by",
    "parse_run_filter",
    "parse_run_order_by",
]
