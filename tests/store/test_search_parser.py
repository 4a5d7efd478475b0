"""The search-filter and order-by grammar, rule by rule, plus round-trip and fuzz properties."""

from __future__ import annotations

import contextlib
import re
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipyard.errors import InvalidFilter, InvalidParameter
from shipyard.store.search import (
    Comparison,
    OrderBy,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_model_version_filter,
    parse_registered_model_filter,
    parse_run_filter,
    parse_run_order_by,
)
from shipyard.store.search._parser import (
    EXPERIMENTS,
    MODEL_VERSIONS,
    REGISTERED_MODELS,
    RUNS,
    EntitySpec,
    parse_filter,
)

C = Comparison


def one(text: str) -> Comparison:
    [comparison] = parse_run_filter(text)
    return comparison


def rejects(text: str, match: str) -> None:
    with pytest.raises(InvalidFilter, match=match):
        parse_run_filter(text)


# --- empty input and overall shape ---------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_blank_filter_means_no_filter(text: str | None) -> None:
    assert parse_run_filter(text) == []
    assert parse_experiment_filter(text) == []


def test_and_joins_clauses_case_insensitively() -> None:
    text = "metrics.acc > 0.9 and params.lr = '0.1' AND tags.team = 'ml' AnD status = 'FINISHED'"
    assert parse_run_filter(text) == [
        C("metric", "acc", ">", 0.9),
        C("param", "lr", "=", "0.1"),
        C("tag", "team", "=", "ml"),
        C("attribute", "status", "=", "FINISHED"),
    ]


def test_whitespace_is_optional_around_operators() -> None:
    assert parse_run_filter("metrics.acc>=1 AND params.a!='x'") == [
        C("metric", "acc", ">=", 1.0),
        C("param", "a", "!=", "x"),
    ]


@pytest.mark.parametrize("joiner", ["OR", "or", "Or"])
def test_or_is_rejected_with_its_position(joiner: str) -> None:
    rejects(f"metrics.a > 1 {joiner} metrics.b < 2", r"OR at position 14 is not supported.*AND")


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "kind"),
    [
        ("metrics", "metric"),
        ("metric", "metric"),
        ("params", "param"),
        ("param", "param"),
        ("parameters", "param"),
        ("parameter", "param"),
        ("tags", "tag"),
        ("tag", "tag"),
        ("METRICS", "metric"),
        ("Tags", "tag"),
    ],
)
def test_prefix_spellings(prefix: str, kind: str) -> None:
    value = "1" if kind == "metric" else "'1'"
    assert one(f"{prefix}.k = {value}") == C(kind, "k", "=", 1.0 if kind == "metric" else "1")


@pytest.mark.parametrize("prefix", ["attributes", "attribute", "attr", "run", "ATTRIBUTES"])
def test_attribute_prefix_spellings(prefix: str) -> None:
    assert one(f"{prefix}.status = 'RUNNING'") == C("attribute", "status", "=", "RUNNING")


@pytest.mark.parametrize("prefix", ["datasets", "dataset"])
def test_dataset_prefix_spellings(prefix: str) -> None:
    assert one(f"{prefix}.context = 'train'") == C("dataset", "context", "=", "train")


def test_bare_identifier_is_an_attribute() -> None:
    assert one("run_name = 'x'") == C("attribute", "run_name", "=", "x")


def test_unquoted_key_keeps_dots_after_the_prefix() -> None:
    assert one("params.model.lr = '3'") == C("param", "model.lr", "=", "3")
    assert one("tags.mlflow.source.name = 'x'") == C("tag", "mlflow.source.name", "=", "x")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("metrics.`my metric` > 1", "my metric"),
        ('metrics."my metric" > 1', "my metric"),
        ("metrics.`a.b-c/d:e f` > 1", "a.b-c/d:e f"),
        ('metrics."2019-04-02 error rate" > 1', "2019-04-02 error rate"),
        ("metrics.`it``s` > 1", "it`s"),
        ('metrics."say ""hi""" > 1', 'say "hi"'),
        ("metrics.`AND` > 1", "AND"),
    ],
)
def test_quoted_keys(text: str, key: str) -> None:
    assert one(text) == C("metric", key, ">", 1.0)


def test_metric_param_and_tag_keys_are_case_sensitive() -> None:
    assert one("metrics.ACC > 1") == C("metric", "ACC", ">", 1.0)
    assert one("tags.Team = 'x'") == C("tag", "Team", "=", "x")


def test_quoted_bare_key_is_an_attribute() -> None:
    assert one("`run name` = 'x'") == C("attribute", "run_name", "=", "x")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("foo.bar = 'x'", r"invalid entity type 'foo' at position 0; expected one of attributes"),
        ("metrics. `x` > 1", r"unexpected token '`x`' at position 9; expected a quoted key"),
        ("metrics.'x' > 1", r"unexpected token ''x'' at position 8; expected a quoted key"),
        ("metrics. > 1", r"unexpected token '>' at position 9; expected a quoted key"),
        ("params.a. = 'x'", r"invalid key 'params.a.' at position 0"),
        ("metrics.`` > 1", r"empty key at position 8"),
        ("= 'x'", r"unexpected token '=' at position 0; expected a key"),
        ("'status' = 'x'", r"unexpected token ''status'' at position 0; expected a key"),
        ("metrics.a.`b` > 1", r"invalid key 'metrics.a.'"),
    ],
)
def test_bad_keys(text: str, match: str) -> None:
    rejects(text, match)


# --- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'x'", "x"),
        ('"x"', "x"),
        ("''", ""),
        ("'it''s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ("'a AND b = 1'", "a AND b = 1"),
        ("'%Logistic%'", "%Logistic%"),
        ("'ünï cødé'", "ünï cødé"),
        ('"it\'s"', "it's"),
    ],
)
def test_string_values(literal: str, value: str) -> None:
    assert one(f"tags.t = {literal}") == C("tag", "t", "=", value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1", 1.0),
        ("-1", -1.0),
        ("+2", 2.0),
        ("0.25", 0.25),
        (".5", 0.5),
        ("3.", 3.0),
        ("1e3", 1000.0),
        ("-1.5E-3", -0.0015),
        ("1670628787527", 1670628787527.0),
    ],
)
def test_numeric_values(literal: str, value: float) -> None:
    comparison = one(f"metrics.m <= {literal}")
    assert comparison == C("metric", "m", "<=", value)
    assert isinstance(comparison.value, float)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("status = FINISHED", r"unexpected token 'FINISHED' at position 9; expected a quoted"),
        ("metrics.acc >> 1", r"unexpected token '>' at position 13"),
        ("metrics.acc == 1", r"unexpected token '=' at position 13"),
        ("metrics.acc <> 1", r"unexpected token '>' at position 13"),
        ("metrics.acc >", r"unexpected end of filter; expected a quoted string or a number"),
        ("metrics.acc > 1 2", r"unexpected token '2' at position 16; expected AND or end"),
        ("metrics.acc 1", r"unexpected token '1' at position 12; expected a comparator"),
        ("metrics.acc", r"unexpected end of filter; expected a comparator"),
        ("metrics.acc > 1 AND", r"unexpected end of filter; expected a key"),
        ("AND metrics.acc > 1", r"unexpected token 'AND' at position 0"),
        ("metrics.acc > 1 AND AND metrics.b > 1", r"unexpected token 'AND' at position 20"),
        ("(metrics.acc > 1)", r"unexpected token '\(' at position 0"),
        ("metrics.acc > 1e", r"unexpected token 'e' at position 15"),
        ("tags.t = 'open", r"unterminated single-quoted string starting at position 9"),
        ('tags.t = "open', r"unterminated double-quoted string starting at position 9"),
        ("metrics.`open > 1", r"unterminated backtick-quoted name starting at position 8"),
        ("metrics.a > 1 # c", r"unexpected character '#' at position 14"),
        ("metrics.a ! 1", r"unexpected character '!' at position 10"),
        ("metrics.a > - 1", r"unexpected character '-' at position 12"),
        ("tags.t = NULL", r"unexpected token 'NULL' at position 9"),
    ],
)
def test_syntax_errors_name_the_token_and_position(text: str, match: str) -> None:
    with pytest.raises(InvalidFilter, match=match) as info:
        parse_run_filter(text)
    assert info.value.message.startswith(f"Invalid filter '{text}': ")


def test_errors_are_invalid_parameter_values() -> None:
    with pytest.raises(InvalidParameter) as info:
        parse_run_filter("metrics.a >> 1")
    assert info.value.code == "INVALID_PARAMETER_VALUE"
    assert info.value.http_status == 400


def test_long_filters_are_shortened_in_messages() -> None:
    text = "metrics.a > 1 AND " * 50 + "metrics.a >> 1"
    with pytest.raises(InvalidFilter) as info:
        parse_run_filter(text)
    assert len(info.value.message) < 400
    assert "..." in info.value.message


# --- comparators per kind --------------------------------------------------------------------

NUMERIC_OPS = ["=", "!=", ">", ">=", "<", "<="]
STRING_OPS = ["=", "!=", "LIKE", "ILIKE"]


@pytest.mark.parametrize("op", NUMERIC_OPS)
def test_metric_comparators(op: str) -> None:
    assert one(f"metrics.acc {op} 0.5") == C("metric", "acc", op, 0.5)


@pytest.mark.parametrize(
    ("op", "rhs"), [("LIKE", "'x'"), ("ILIKE", "'x'"), ("IN", "('x')"), ("IS NULL", "")]
)
def test_metric_rejects_string_comparators(op: str, rhs: str) -> None:
    rejects(
        f"metrics.acc {op} {rhs}",
        rf"Invalid comparator '{op}' for metric key 'acc'; expected one of =, !=, >, >=, <, <=$",
    )


def test_metric_needs_a_number() -> None:
    rejects("metrics.acc > '0.5'", r"Invalid value '0.5' for metric key 'acc'; expected a number")


@pytest.mark.parametrize("kind", ["params", "tags"])
@pytest.mark.parametrize("op", [*STRING_OPS, "like", "ilike", "Like"])
def test_param_and_tag_string_comparators(kind: str, op: str) -> None:
    [comparison] = parse_run_filter(f"{kind}.k {op} 'v%'")
    assert comparison == C(kind[:-1], "k", op.upper(), "v%")


@pytest.mark.parametrize("kind", ["params", "tags"])
@pytest.mark.parametrize(
    ("suffix", "op"),
    [("IS NULL", "IS NULL"), ("is not null", "IS NOT NULL"), ("Is  Not\tNull", "IS NOT NULL")],
)
def test_param_and_tag_null_checks(kind: str, suffix: str, op: str) -> None:
    assert parse_run_filter(f"{kind}.k {suffix}") == [C(kind[:-1], "k", op, None)]


@pytest.mark.parametrize("kind", ["params", "tags"])
@pytest.mark.parametrize("op", [">", ">=", "<", "<="])
def test_param_and_tag_reject_ordering(kind: str, op: str) -> None:
    rejects(f"{kind}.k {op} 'v'", rf"Invalid comparator '{op}' for {kind[:-1]} key 'k'")


@pytest.mark.parametrize("kind", ["params", "tags"])
def test_param_and_tag_reject_in_and_numbers(kind: str) -> None:
    rejects(f"{kind}.k IN ('v')", rf"Invalid comparator 'IN' for {kind[:-1]} key 'k'")
    rejects(f"{kind}.k = 1", rf"Invalid value 1 for {kind[:-1]} key 'k'; expected a quoted string")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("tags.k IS 'x'", r"unexpected token ''x'' at position 10; expected NULL"),
        ("tags.k IS NOT 'x'", r"unexpected token ''x'' at position 14; expected NULL"),
        ("tags.k NOT LIKE 'x'", r"unexpected token 'LIKE' at position 11; expected IN"),
        ("tags.k IS NULL 'x'", r"unexpected token ''x'' at position 15; expected AND"),
    ],
)
def test_malformed_keyword_comparators(text: str, match: str) -> None:
    rejects(text, match)


# --- run attributes --------------------------------------------------------------------------

STRING_ATTRIBUTES = ["run_id", "run_name", "user_id", "status", "artifact_uri"]
NUMERIC_ATTRIBUTES = ["start_time", "end_time"]


@pytest.mark.parametrize("name", STRING_ATTRIBUTES)
@pytest.mark.parametrize("op", STRING_OPS)
def test_string_attributes(name: str, op: str) -> None:
    assert one(f"attributes.{name} {op} 'v'") == C("attribute", name, op, "v")


@pytest.mark.parametrize("name", STRING_ATTRIBUTES)
@pytest.mark.parametrize("op", [">", "<=", "IS NULL"])
def test_string_attributes_reject_other_comparators(name: str, op: str) -> None:
    rejects(f"attributes.{name} {op} 'v'", rf"Invalid comparator '{op}' for attribute key '{name}'")


@pytest.mark.parametrize("name", NUMERIC_ATTRIBUTES)
@pytest.mark.parametrize("op", NUMERIC_OPS)
def test_numeric_attributes(name: str, op: str) -> None:
    assert one(f"{name} {op} 1670628787527") == C("attribute", name, op, 1670628787527.0)


@pytest.mark.parametrize("name", NUMERIC_ATTRIBUTES)
def test_numeric_attributes_reject_strings_and_like(name: str) -> None:
    rejects(f"{name} > '1'", rf"Invalid value '1' for attribute key '{name}'; expected a number")
    rejects(f"{name} LIKE '1%'", rf"Invalid comparator 'LIKE' for attribute key '{name}'")


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("created", "start_time"),
        ("Created", "start_time"),
        ("`run name`", "run_name"),
        ("`Run name`", "run_name"),
        ('"Run Name"', "run_name"),
        ("RUN_ID", "run_id"),
        ("Status", "status"),
    ],
)
def test_attribute_names_are_case_insensitive_with_aliases(spelling: str, canonical: str) -> None:
    numeric = canonical == "start_time"
    literal, value = ("5", 5.0) if numeric else ("'x'", "x")
    assert one(f"attributes.{spelling} = {literal}") == C("attribute", canonical, "=", value)


@pytest.mark.parametrize("op", ["IN", "NOT IN", "in", "not in"])
def test_in_lists_on_run_id(op: str) -> None:
    assert one(f"attributes.run_id {op} ('a', \"b\",'c')") == C(
        "attribute", "run_id", op.upper(), ("a", "b", "c")
    )
    assert one(f"run_id {op} ('only')") == C("attribute", "run_id", op.upper(), ("only",))


@pytest.mark.parametrize("name", ["run_name", "status", "user_id", "artifact_uri"])
def test_in_is_only_for_run_id(name: str) -> None:
    rejects(f"attributes.{name} IN ('a')", rf"Invalid comparator 'IN' for attribute key '{name}'")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("run_id IN ()", r"unexpected token '\)' at position 11; expected a quoted string"),
        ("run_id IN ('a',)", r"unexpected token '\)' at position 15; expected a quoted string"),
        ("run_id IN ('a' 'b')", r"unexpected token ''b'' at position 15; expected ',' or '\)'"),
        ("run_id IN ('a'", r"unexpected end of filter; expected ',' or '\)'"),
        ("run_id IN 'a'", r"unexpected token ''a'' at position 10; expected '\(' to open"),
        ("run_id IN (1, 2)", r"unexpected token '1' at position 11; expected a quoted string"),
        ("run_id = ('a')", r"unexpected token '\(' at position 9"),
    ],
)
def test_malformed_in_lists(text: str, match: str) -> None:
    rejects(text, match)


@pytest.mark.parametrize("name", ["lifecycle_stage", "experiment_id", "foo", "metrics"])
def test_unknown_run_attributes(name: str) -> None:
    rejects(
        f"attributes.{name} = 'x'",
        rf"Invalid attribute key '{name}' for runs; expected one of artifact_uri, end_time, ",
    )


# --- datasets --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["name", "digest", "context", "Name"])
@pytest.mark.parametrize("op", STRING_OPS)
def test_dataset_comparators(key: str, op: str) -> None:
    assert one(f"datasets.{key} {op} 'v'") == C("dataset", key.lower(), op, "v")


@pytest.mark.parametrize("op", ["IN", "NOT IN"])
def test_dataset_in_lists(op: str) -> None:
    assert one(f"datasets.context {op} ('train', 'eval')") == C(
        "dataset", "context", op, ("train", "eval")
    )


def test_dataset_rejections() -> None:
    rejects(
        "datasets.source = 'x'",
        r"Invalid dataset key 'source' for runs; expected one of "
        r"context, digest, name",
    )
    rejects("datasets.name > 'x'", r"Invalid comparator '>' for dataset key 'name'")
    rejects("datasets.name IS NULL", r"Invalid comparator 'IS NULL' for dataset key 'name'")
    rejects("datasets.name = 1", r"Invalid value 1 for dataset key 'name'; expected a quoted")


# --- experiments -----------------------------------------------------------------------------


def test_experiment_filters() -> None:
    text = (
        "name LIKE 'x%' AND attributes.creation_time > 5 AND last_update_time <= 6 "
        "AND tags.group ILIKE '%y%' AND tags.owner IS NULL AND experiment_id IN ('1', '2')"
    )
    assert parse_experiment_filter(text) == [
        C("attribute", "name", "LIKE", "x%"),
        C("attribute", "creation_time", ">", 5.0),
        C("attribute", "last_update_time", "<=", 6.0),
        C("tag", "group", "ILIKE", "%y%"),
        C("tag", "owner", "IS NULL", None),
        C("attribute", "experiment_id", "IN", ("1", "2")),
    ]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "metrics.a > 1",
            r"Invalid entity type 'metrics' for experiments; expected one of "
            r"attributes, tags",
        ),
        ("params.a = 'x'", r"Invalid entity type 'params' for experiments"),
        ("datasets.name = 'x'", r"Invalid entity type 'datasets' for experiments"),
        (
            "status = 'x'",
            r"Invalid attribute key 'status' for experiments; expected one of "
            r"creation_time, experiment_id, last_update_time, name",
        ),
        ("name > 'x'", r"Invalid comparator '>' for attribute key 'name'"),
        ("name IN ('x')", r"Invalid comparator 'IN' for attribute key 'name'"),
        ("creation_time LIKE '1'", r"Invalid comparator 'LIKE' for attribute key 'creation_time'"),
        ("creation_time = '1'", r"Invalid value '1' for attribute key 'creation_time'"),
        ("name = 'a' OR name = 'b'", r"OR at position 11 is not supported"),
    ],
)
def test_experiment_filter_rejections(text: str, match: str) -> None:
    with pytest.raises(InvalidFilter, match=match):
        parse_experiment_filter(text)


# --- registry (provisional tables) -----------------------------------------------------------


def test_registered_model_filters() -> None:
    assert parse_registered_model_filter("name ILIKE '%a%' AND tags.`k` != 'v'") == [
        C("attribute", "name", "ILIKE", "%a%"),
        C("tag", "k", "!=", "v"),
    ]
    with pytest.raises(InvalidFilter, match=r"Invalid attribute key 'run_id'"):
        parse_registered_model_filter("run_id = 'x'")


def test_model_version_filters() -> None:
    text = "name IN ('a') AND run_id = 'r' AND source_path LIKE 's3://%' AND version_number >= 2"
    assert parse_model_version_filter(text) == [
        C("attribute", "name", "IN", ("a",)),
        C("attribute", "run_id", "=", "r"),
        C("attribute", "source_path", "LIKE", "s3://%"),
        C("attribute", "version_number", ">=", 2.0),
    ]
    with pytest.raises(InvalidFilter, match=r"Invalid entity type 'metrics' for model versions"):
        parse_model_version_filter("metrics.a > 1")


# --- order by --------------------------------------------------------------------------------


def test_run_order_by() -> None:
    clauses = [
        "metrics.rmse DESC",
        "attributes.start_time",
        "params.lr ASC",
        "tags.`x y` desc",
        "start_time",
        "created Asc",
        "`Run Name` DESC",
        'metrics."f1 score"',
    ]
    assert parse_run_order_by(clauses) == [
        OrderBy("metric", "rmse", ascending=False),
        OrderBy("attribute", "start_time"),
        OrderBy("param", "lr"),
        OrderBy("tag", "x y", ascending=False),
        OrderBy("attribute", "start_time"),
        OrderBy("attribute", "start_time"),
        OrderBy("attribute", "run_name", ascending=False),
        OrderBy("metric", "f1 score"),
    ]


def test_order_by_accepts_empty_list_and_a_lone_string() -> None:
    assert parse_run_order_by([]) == []
    assert parse_run_order_by("metrics.a DESC") == [OrderBy("metric", "a", ascending=False)]


@pytest.mark.parametrize(
    ("clause", "match"),
    [
        ("", r"Invalid order_by clause '': unexpected end of order_by clause; expected a key"),
        ("metrics.rmse DESCX", r"unexpected token 'DESCX' at position 13; expected ASC, DESC"),
        ("metrics.rmse DESC ASC", r"unexpected token 'ASC' at position 18"),
        ("metrics.rmse > 1", r"unexpected token '>' at position 13"),
        (
            "datasets.name",
            r"Invalid order_by entity type 'datasets' for runs; expected one of "
            r"attributes, metrics, params, tags",
        ),
        ("lifecycle_stage", r"Invalid attribute key 'lifecycle_stage' for runs"),
        ("foo.bar", r"invalid entity type 'foo' at position 0"),
    ],
)
def test_run_order_by_rejections(clause: str, match: str) -> None:
    with pytest.raises(InvalidFilter, match=match):
        parse_run_order_by([clause])


def test_experiment_order_by() -> None:
    clauses = ["name", "experiment_id DESC", "attributes.creation_time asc", "last_update_time"]
    assert parse_experiment_order_by(clauses) == [
        OrderBy("attribute", "name"),
        OrderBy("attribute", "experiment_id", ascending=False),
        OrderBy("attribute", "creation_time"),
        OrderBy("attribute", "last_update_time"),
    ]


@pytest.mark.parametrize(
    ("clause", "match"),
    [
        (
            "tags.a",
            r"Invalid order_by entity type 'tags' for experiments; expected one of "
            r"attributes$",
        ),
        ("metrics.a", r"Invalid order_by entity type 'metrics' for experiments"),
        ("artifact_location", r"Invalid attribute key 'artifact_location' for experiments"),
    ],
)
def test_experiment_order_by_rejections(clause: str, match: str) -> None:
    with pytest.raises(InvalidFilter, match=match):
        parse_experiment_order_by([clause])


# --- the AST ---------------------------------------------------------------------------------


def test_ast_nodes_are_frozen_and_hashable() -> None:
    comparison = C("attribute", "run_id", "IN", ("a",))
    with pytest.raises(FrozenInstanceError):
        comparison.key = "x"  # type: ignore[misc]
    assert len({comparison, C("attribute", "run_id", "IN", ("a",))}) == 1
    assert OrderBy("metric", "a") == OrderBy("metric", "a", ascending=True)


# --- properties ------------------------------------------------------------------------------

_PREFIX_SPELLINGS = {
    "attribute": ["attributes", "attribute", "attr", "run", ""],
    "metric": ["metrics", "metric"],
    "param": ["params", "param", "parameters", "parameter"],
    "tag": ["tags", "tag"],
    "dataset": ["datasets", "dataset"],
}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
_KEY_TEXT = st.one_of(
    st.text(alphabet="abcXYZ019_.-/: `\"'", min_size=1, max_size=12),
    st.text(min_size=1, max_size=8),
)
_STRING = st.text(max_size=12)
_FINITE = st.floats(allow_nan=False, allow_infinity=False)


def _quote(text: str, quote: str) -> str:
    return quote + text.replace(quote, quote * 2) + quote


@st.composite
def _rendered_key(draw: st.DrawFn, kind: str, key: str) -> str:
    """Render a key as users may write it: any prefix spelling, quoted or not, any case."""
    prefix = draw(st.sampled_from(_PREFIX_SPELLINGS[kind]))
    if kind in ("attribute", "dataset"):
        key = "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in key)
    if _PLAIN_KEY.fullmatch(key) and draw(st.booleans()):
        return f"{prefix}.{key}" if prefix else key
    quoted = _quote(key, draw(st.sampled_from(["`", '"'])))
    return f"{prefix}.{quoted}" if prefix else quoted


@st.composite
def _rendered_value(draw: st.DrawFn, value: str | float | tuple[str, ...] | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _quote(value, draw(st.sampled_from(["'", '"'])))
    items = [_quote(item, draw(st.sampled_from(["'", '"']))) for item in value]
    return "(" + draw(st.sampled_from([", ", ","])).join(items) + ")"


@st.composite
def _comparison(draw: st.DrawFn, spec: EntitySpec) -> Comparison:
    """A valid comparison for ``spec``, drawn from its own table of kinds, keys and comparators."""
    kind = draw(st.sampled_from(sorted(spec.kinds)))
    kind_spec = spec.kinds[kind]
    if kind_spec.any_key is not None:
        key, rule = draw(_KEY_TEXT), kind_spec.any_key
    else:
        key = draw(st.sampled_from(sorted(kind_spec.keys)))
        rule = kind_spec.keys[key]
    op = draw(st.sampled_from(rule.ops))
    value: str | float | tuple[str, ...] | None
    if op in ("IS NULL", "IS NOT NULL"):
        value = None
    elif op in ("IN", "NOT IN"):
        value = tuple(draw(st.lists(_STRING, min_size=1, max_size=4)))
    elif rule.numeric:
        value = draw(_FINITE)
    else:
        value = draw(_STRING)
    return C(kind, key, op, value)


@st.composite
def _render(draw: st.DrawFn, comparison: Comparison) -> str:
    key = draw(_rendered_key(comparison.kind, comparison.key))
    op = comparison.op
    if op[0].isalpha():
        op = draw(st.sampled_from([op, op.lower(), op.title()]))
    value = draw(_rendered_value(comparison.value))
    space = draw(st.sampled_from([" ", "  ", "\t", "\n "]))
    return f"{key}{space}{op}{space}{value}".rstrip()


@st.composite
def _filter_case(draw: st.DrawFn) -> tuple[EntitySpec, list[Comparison], str]:
    spec = draw(st.sampled_from([RUNS, EXPERIMENTS, REGISTERED_MODELS, MODEL_VERSIONS]))
    comparisons = draw(st.lists(_comparison(spec), min_size=1, max_size=4))
    joiner = draw(st.sampled_from([" AND ", " and ", "\nAnd\t"]))
    return spec, comparisons, joiner.join(draw(_render(c)) for c in comparisons)


@given(_filter_case())
def test_rendered_filters_parse_back_to_the_same_comparisons(
    case: tuple[EntitySpec, list[Comparison], str],
) -> None:
    spec, comparisons, text = case
    assert parse_filter(text, spec) == comparisons


def _parse_everywhere(text: str) -> None:
    """Feed ``text`` to every parser as a filter and as an order-by clause."""
    filters = (
        parse_run_filter,
        parse_experiment_filter,
        parse_registered_model_filter,
        parse_model_version_filter,
    )
    for parse in filters:
        with contextlib.suppress(InvalidFilter):
            parse(text)
    for parse_order in (parse_run_order_by, parse_experiment_order_by):
        with contextlib.suppress(InvalidFilter):
            parse_order([text])


@given(st.text())
def test_arbitrary_text_raises_only_invalid_filter(text: str) -> None:
    _parse_everywhere(text)


_FRAGMENTS = st.sampled_from(
    [
        "metrics.a", "params.`b c`", "tags.", "attributes.start_time", "run_id", "datasets.name",
        "name", "created", "foo.bar", "`", '"', "'", "'x'", '"y"', "``", "1", "-2.5e3", ".", "=",
        "!=", ">", ">=", "<", "<=", "LIKE", "ilike", "IN", "NOT", "IS", "NULL", "AND", "OR",
        "(", ")", ",", "ASC", "DESC", "\x00", "\u00e9", "\u0131", "1e", "+", "-",
    ]
)  # fmt: skip


@given(st.lists(_FRAGMENTS, max_size=12), st.sampled_from(["", " "]))
def test_token_soup_raises_only_invalid_filter(fragments: list[str], joiner: str) -> None:
    """Near-miss inputs reach deeper into the parser than random characters do."""
    _parse_everywhere(joiner.join(fragments))
