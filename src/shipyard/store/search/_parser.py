"""Parse search filters and order-by clauses, then check them against what each entity allows.

The grammar is shared by every entity (``key op value [AND key op value ...]``); what differs is
which kinds of key, which attribute names and which comparators an entity accepts. Those
differences are data (an ``EntitySpec`` per entity), so supporting a new entity means adding a
table, not a parser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shipyard.errors import InvalidFilter
from shipyard.store.search._ast import Comparison, OrderBy
from shipyard.store.search._lexer import (
    Token,
    TokenType,
    is_keyword,
    shorten,
    syntax_error,
    tokenize,
)

__all__ = [
    "EXPERIMENTS",
    "LOGGED_MODELS",
    "MODEL_VERSIONS",
    "REGISTERED_MODELS",
    "RUNS",
    "EntitySpec",
    "KindSpec",
    "Rule",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_filter",
    "parse_logged_model_filter",
    "parse_logged_model_order_by",
    "parse_model_version_filter",
    "parse_order_by",
    "parse_registered_model_filter",
    "parse_run_filter",
    "parse_run_order_by",
]

Value = str | float | tuple[str, ...] | None

# Every spelling MLflow accepts before the dot, mapped to the kind it names.
_PREFIXES: Mapping[str, str] = {
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "dataset": "dataset",
    "datasets": "dataset",
}
# The spelling we suggest back to users in error messages.
_PREFIX_SHOWN: Mapping[str, str] = {
    "attribute": "attributes",
    "metric": "metrics",
    "param": "params",
    "tag": "tags",
    "dataset": "datasets",
}
_KEY_QUOTES = (TokenType.BACKTICK, TokenType.DQUOTE)
_NULL_OPS = ("IS NULL", "IS NOT NULL")
# Words that can never be a bare attribute name, so "AND AND x = 1" points at the right token.
_RESERVED = ("AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC")
_LIST_OPS = ("IN", "NOT IN")
_COMPARATORS = "=, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN, IS NULL or IS NOT NULL"


@dataclass(frozen=True, slots=True)
class Rule:
    """The comparators a key accepts and whether its single value must be a number."""

    ops: tuple[str, ...]
    numeric: bool = False


@dataclass(frozen=True, slots=True)
class KindSpec:
    """How one kind of key is checked: any key with one rule, or a fixed set of names."""

    any_key: Rule | None = None
    keys: Mapping[str, Rule] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """What one searchable entity allows; ``name`` is the plural used in messages."""

    name: str
    kinds: Mapping[str, KindSpec]
    order_kinds: frozenset[str] = frozenset()


_NUMERIC = Rule(("=", "!=", ">", ">=", "<", "<="), numeric=True)
_STRING = Rule(("=", "!=", "LIKE", "ILIKE"))
_STRING_IN = Rule((*_STRING.ops, *_LIST_OPS))
_NULLABLE = Rule((*_STRING.ops, *_NULL_OPS))
_ID = Rule(("=", "!=", *_LIST_OPS))

RUNS = EntitySpec(
    name="runs",
    kinds={
        "attribute": KindSpec(
            keys={
                "run_id": _STRING_IN,
                "run_name": _STRING,
                "user_id": _STRING,
                "status": _STRING,
                "artifact_uri": _STRING,
                "start_time": _NUMERIC,
                "end_time": _NUMERIC,
            },
            aliases={"created": "start_time", "run name": "run_name"},
        ),
        "metric": KindSpec(any_key=_NUMERIC),
        "param": KindSpec(any_key=_NULLABLE),
        "tag": KindSpec(any_key=_NULLABLE),
        "dataset": KindSpec(keys={"name": _STRING_IN, "digest": _STRING_IN, "context": _STRING_IN}),
    },
    order_kinds=frozenset({"attribute", "metric", "param", "tag"}),
)

EXPERIMENTS = EntitySpec(
    name="experiments",
    kinds={
        "attribute": KindSpec(
            keys={
                "name": _STRING,
                "experiment_id": _ID,
                "creation_time": _NUMERIC,
                "last_update_time": _NUMERIC,
            }
        ),
        "tag": KindSpec(any_key=_NULLABLE),
    },
    order_kinds=frozenset({"attribute"}),
)

_TIMESTAMPS = {"creation_timestamp": _NUMERIC, "last_updated_timestamp": _NUMERIC}
_TIMESTAMP_ALIASES = {
    "creation_time": "creation_timestamp",
    "last_updated_time": "last_updated_timestamp",
    "timestamp": "creation_timestamp",
}

REGISTERED_MODELS = EntitySpec(
    name="registered models",
    kinds={
        "attribute": KindSpec(keys={"name": _STRING, **_TIMESTAMPS}, aliases=_TIMESTAMP_ALIASES),
        "tag": KindSpec(any_key=_STRING),
    },
    order_kinds=frozenset({"attribute"}),
)

MODEL_VERSIONS = EntitySpec(
    name="model versions",
    kinds={
        "attribute": KindSpec(
            keys={
                "name": _STRING_IN,
                "run_id": _ID,
                "source_path": _STRING,
                "version_number": _NUMERIC,
                **_TIMESTAMPS,
            },
            aliases={**_TIMESTAMP_ALIASES, "version": "version_number"},
        ),
        "tag": KindSpec(any_key=_STRING),
    },
    order_kinds=frozenset({"attribute"}),
)

LOGGED_MODELS = EntitySpec(
    name="logged models",
    kinds={
        "attribute": KindSpec(
            keys={
                "name": _STRING_IN,
                "model_id": _ID,
                "model_type": _STRING,
                "status": _STRING_IN,
                "source_run_id": _ID,
                "creation_timestamp": _NUMERIC,
                "last_updated_timestamp": _NUMERIC,
            },
            aliases={
                "creation_time": "creation_timestamp",
                "creation_timestamp_ms": "creation_timestamp",
                "last_updated_time": "last_updated_timestamp",
                "last_updated_timestamp_ms": "last_updated_timestamp",
            },
        ),
        "metric": KindSpec(any_key=_NUMERIC),
        "param": KindSpec(any_key=_STRING),
        "tag": KindSpec(any_key=_STRING),
    },
    order_kinds=frozenset({"attribute", "metric"}),
)


class _Stream:
    """A cursor over the tokens of one text, which builds errors that quote that text."""

    __slots__ = ("_index", "_tokens", "label", "text")

    def __init__(self, text: str, label: str) -> None:
        self.text = text
        self.label = label
        self._tokens = tokenize(text, label)
        self._index = 0

    def peek(self) -> Token:
        return self._tokens[self._index]

    def next(self) -> Token:
        token = self._tokens[self._index]
        if token.type is not TokenType.END:
            self._index += 1
        return token

    def at_end(self) -> bool:
        return self.peek().type is TokenType.END

    def accept_keyword(self, word: str) -> bool:
        if is_keyword(self.peek(), word):
            self._index += 1
            return True
        return False

    def expect(self, expected: str, *types: TokenType) -> Token:
        token = self.next()
        if token.type not in types:
            raise self.unexpected(token, expected)
        return token

    def expect_keyword(self, word: str) -> None:
        token = self.next()
        if not is_keyword(token, word):
            raise self.unexpected(token, word)

    def error(self, detail: str) -> InvalidFilter:
        return syntax_error(self.text, self.label, detail)

    def unexpected(self, token: Token, expected: str) -> InvalidFilter:
        if token.type is TokenType.END:
            found = f"unexpected end of {self.label}"
        else:
            found = f"unexpected token '{shorten(token.text)}' at position {token.pos}"
        return self.error(f"{found}; expected {expected}")


@dataclass(frozen=True, slots=True)
class _Key:
    """A key as read from the text, before the entity's rules resolve it."""

    prefix: str
    kind: str
    key: str


def parse_filter(text: str | None, spec: EntitySpec) -> list[Comparison]:
    """Parse an AND-joined filter for the entity ``spec`` describes; blank text means no filter."""
    if text is None or not text.strip():
        return []
    stream = _Stream(text, "filter")
    comparisons = [_read_comparison(stream, spec)]
    while not stream.at_end():
        _read_and(stream)
        comparisons.append(_read_comparison(stream, spec))
    return comparisons


def parse_order_by(clauses: Sequence[str], spec: EntitySpec) -> list[OrderBy]:
    """Parse ``order_by`` clauses such as ``metrics.rmse DESC``; ascending by default."""
    if isinstance(clauses, str):  # a lone string is a Sequence[str] too; don't split it into chars
        clauses = [clauses]
    return [_read_order_by(clause, spec) for clause in clauses]


def parse_run_filter(text: str | None) -> list[Comparison]:
    """``filter`` of ``runs/search``."""
    return parse_filter(text, RUNS)


def parse_experiment_filter(text: str | None) -> list[Comparison]:
    """``filter`` of ``experiments/search``."""
    return parse_filter(text, EXPERIMENTS)


def parse_registered_model_filter(text: str | None) -> list[Comparison]:
    """``filter`` of ``registered-models/search``."""
    return parse_filter(text, REGISTERED_MODELS)


def parse_model_version_filter(text: str | None) -> list[Comparison]:
    """``filter`` of ``model-versions/search``."""
    return parse_filter(text, MODEL_VERSIONS)


def parse_registered_model_order_by(clauses: Sequence[str]) -> list[OrderBy]:
    """``order_by`` of ``registered-models/search``: name and timestamps."""
    return parse_order_by(clauses, REGISTERED_MODELS)


def parse_model_version_order_by(clauses: Sequence[str]) -> list[OrderBy]:
    """``order_by`` of ``model-versions/search``: name, version number and timestamps."""
    return parse_order_by(clauses, MODEL_VERSIONS)


def parse_logged_model_filter(text: str | None) -> list[Comparison]:
    """``filter`` of ``logged-models/search``."""
    return parse_filter(text, LOGGED_MODELS)


def parse_logged_model_order_by(clauses: Sequence[str]) -> list[OrderBy]:
    """``order_by[].field_name`` of ``logged-models/search``: attributes and metrics."""
    return parse_order_by(clauses, LOGGED_MODELS)


def parse_run_order_by(clauses: Sequence[str]) -> list[OrderBy]:
    """``order_by`` of ``runs/search``: attributes, metrics, params and tags."""
    return parse_order_by(clauses, RUNS)


def parse_experiment_order_by(clauses: Sequence[str]) -> list[OrderBy]:
    """``order_by`` of ``experiments/search``: attributes only."""
    return parse_order_by(clauses, EXPERIMENTS)


def _read_and(stream: _Stream) -> None:
    token = stream.next()
    if is_keyword(token, "OR"):
        raise stream.error(f"OR at position {token.pos} is not supported; join clauses with AND")
    if not is_keyword(token, "AND"):
        raise stream.unexpected(token, "AND or end of filter")


def _read_comparison(stream: _Stream, spec: EntitySpec) -> Comparison:
    key = _read_key(stream)
    op = _read_operator(stream)
    value_token = stream.peek()
    value = _read_value(stream, op)
    name, rule = _resolve(key, spec)
    if op not in rule.ops:
        raise InvalidFilter(
            f"Invalid comparator '{op}' for {key.kind} key '{name}'; "
            f"expected one of {', '.join(rule.ops)}"
        )
    _check_value_type(key.kind, name, rule, value, value_token)
    return Comparison(key.kind, name, op, value)


def _read_order_by(clause: str, spec: EntitySpec) -> OrderBy:
    stream = _Stream(clause, "order_by clause")
    key = _read_key(stream)
    ascending = True
    if is_keyword(stream.peek(), "ASC", "DESC"):
        ascending = stream.next().text.upper() == "ASC"
    if not stream.at_end():
        raise stream.unexpected(stream.peek(), "ASC, DESC or end of clause")
    if key.kind not in spec.order_kinds:
        allowed = ", ".join(_PREFIX_SHOWN[kind] for kind in sorted(spec.order_kinds))
        raise InvalidFilter(
            f"Invalid order_by entity type '{key.prefix}' for {spec.name}; "
            f"expected one of {allowed}"
        )
    name, _ = _resolve(key, spec)
    return OrderBy(key.kind, name, ascending)


def _read_key(stream: _Stream) -> _Key:
    """Read ``prefix.key``, ``prefix.`quoted key```, a bare attribute or a quoted attribute."""
    token = stream.expect("a key such as metrics.acc", TokenType.IDENT, *_KEY_QUOTES)
    if token.type is not TokenType.IDENT:
        return _Key("attributes", "attribute", _nonempty(stream, token))
    if is_keyword(token, *_RESERVED):
        raise stream.unexpected(token, "a key such as metrics.acc")
    if "." not in token.text:
        return _Key("attributes", "attribute", token.text)
    prefix, _, rest = token.text.partition(".")
    kind = _PREFIXES.get(prefix.lower())
    if kind is None:
        shown = ", ".join(dict.fromkeys(_PREFIX_SHOWN.values()))
        raise stream.error(
            f"invalid entity type '{prefix}' at position {token.pos}; expected one of {shown}"
        )
    if rest.endswith("."):
        raise stream.error(
            f"invalid key '{shorten(token.text)}' at position {token.pos}; quote "
            "keys with special characters, e.g. params.`a.b`"
        )
    if rest:
        return _Key(prefix, kind, rest)
    quoted = stream.next()
    if quoted.type not in _KEY_QUOTES or quoted.pos != token.pos + len(token.text):
        raise stream.unexpected(quoted, f"a quoted key right after '{token.text}'")
    return _Key(prefix, kind, _nonempty(stream, quoted))


def _nonempty(stream: _Stream, token: Token) -> str:
    if not token.value:
        raise stream.error(f"empty key at position {token.pos}")
    return token.value


def _read_operator(stream: _Stream) -> str:
    token = stream.next()
    if token.type is TokenType.OP:
        return token.text
    if is_keyword(token, "LIKE", "ILIKE", "IN"):
        return token.text.upper()
    if is_keyword(token, "NOT"):
        stream.expect_keyword("IN")
        return "NOT IN"
    if is_keyword(token, "IS"):
        negated = stream.accept_keyword("NOT")
        stream.expect_keyword("NULL")
        return "IS NOT NULL" if negated else "IS NULL"
    raise stream.unexpected(token, f"a comparator ({_COMPARATORS})")


def _read_value(stream: _Stream, op: str) -> Value:
    if op in _NULL_OPS:
        return None
    if op in _LIST_OPS:
        return _read_list(stream)
    token = stream.expect(
        "a quoted string or a number", TokenType.SQUOTE, TokenType.DQUOTE, TokenType.NUMBER
    )
    return float(token.text) if token.type is TokenType.NUMBER else token.value


def _read_list(stream: _Stream) -> tuple[str, ...]:
    """Read ``('a', 'b', ...)``: at least one quoted string, no trailing comma."""
    strings = (TokenType.SQUOTE, TokenType.DQUOTE)
    stream.expect("'(' to open the list", TokenType.LPAREN)
    items = [stream.expect("a quoted string", *strings).value]
    while stream.expect("',' or ')'", TokenType.COMMA, TokenType.RPAREN).type is TokenType.COMMA:
        items.append(stream.expect("a quoted string", *strings).value)
    return tuple(items)


def _resolve(key: _Key, spec: EntitySpec) -> tuple[str, Rule]:
    """Find the rule for ``key``; attribute names are case-insensitive and may be aliases."""
    kind_spec = spec.kinds.get(key.kind)
    if kind_spec is None:
        allowed = ", ".join(_PREFIX_SHOWN[kind] for kind in spec.kinds)
        raise InvalidFilter(
            f"Invalid entity type '{key.prefix}' for {spec.name}; expected one of {allowed}"
        )
    if kind_spec.any_key is not None:
        return key.key, kind_spec.any_key
    folded = key.key.lower()
    name = kind_spec.aliases.get(folded, folded)
    rule = kind_spec.keys.get(name)
    if rule is None:
        raise InvalidFilter(
            f"Invalid {key.kind} key '{shorten(key.key)}' for {spec.name}; "
            f"expected one of {', '.join(sorted(kind_spec.keys))}"
        )
    return name, rule


def _check_value_type(kind: str, name: str, rule: Rule, value: Value, token: Token) -> None:
    """Numbers for numeric keys, quoted strings for the rest; lists and NULL were checked."""
    if value is None or isinstance(value, tuple):
        return
    if rule.numeric and isinstance(value, str):
        expected = "a number"
    elif not rule.numeric and isinstance(value, float):
        expected = "a quoted string"
    else:
        return
    raise InvalidFilter(
        f"Invalid value {shorten(token.text)} for {kind} key '{name}'; expected {expected}"
    )
