"""Split filter and order-by text into tokens that remember where they started.

Positions (0-based character offsets) travel with every token so that an error can point at the
exact spot a user mistyped; filters arrive over HTTP and the message is all the user sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from shipyard.errors import InvalidFilter

__all__ = ["Token", "TokenType", "is_keyword", "shorten", "syntax_error", "tokenize"]

_MAX_SHOWN = 200

# Identifiers may carry dotted segments (``params.model.lr``) and a trailing dot when a quoted
# key follows (``metrics.`my metric```). Numbers are ASCII only: ``float()`` would accept other
# scripts' digits, which no one means in a filter.
_IDENT = re.compile(r"[^\W\d]\w*(?:\.\w+)*\.?")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OPERATOR = re.compile(r"[<>!]=|[=<>]")
_SPACE = re.compile(r"\s+")


class TokenType(Enum):
    IDENT = "identifier"
    BACKTICK = "backtick-quoted name"
    DQUOTE = "double-quoted string"
    SQUOTE = "single-quoted string"
    NUMBER = "number"
    OP = "comparison operator"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    END = "end of input"


_PUNCTUATION = {"(": TokenType.LPAREN, ")": TokenType.RPAREN, ",": TokenType.COMMA}
_QUOTES = {"`": TokenType.BACKTICK, '"': TokenType.DQUOTE, "'": TokenType.SQUOTE}


@dataclass(frozen=True, slots=True)
class Token:
    """``text`` is the token as written; ``value`` drops quotes and un-doubles inner quotes."""

    type: TokenType
    text: str
    value: str
    pos: int


def shorten(text: str) -> str:
    """Keep error messages readable when someone sends a huge filter."""
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def syntax_error(text: str, label: str, detail: str) -> InvalidFilter:
    return InvalidFilter(f"Invalid {label} '{shorten(text)}': {detail}")


def is_keyword(token: Token, *words: str) -> bool:
    """Keywords are case-insensitive in ASCII only: the dotless i upper-cases to 'I'."""
    text = token.text
    return token.type is TokenType.IDENT and text.isascii() and text.upper() in words


def tokenize(text: str, label: str = "filter") -> list[Token]:
    """Return the tokens of ``text`` followed by one END token."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        space = _SPACE.match(text, pos)
        if space:
            pos = space.end()
            continue
        token = _next_token(text, pos, label)
        tokens.append(token)
        pos += len(token.text)
    tokens.append(Token(TokenType.END, "", "", len(text)))
    return tokens


def _next_token(text: str, pos: int, label: str) -> Token:
    char = text[pos]
    if char in _QUOTES:
        return _quoted(text, pos, label)
    if char in _PUNCTUATION:
        return Token(_PUNCTUATION[char], char, char, pos)
    for pattern, kind in ((_NUMBER, TokenType.NUMBER), (_OPERATOR, TokenType.OP)):
        match = pattern.match(text, pos)
        if match:
            return Token(kind, match.group(), match.group(), pos)
    match = _IDENT.match(text, pos)
    if match:
        return Token(TokenType.IDENT, match.group(), match.group(), pos)
    raise syntax_error(text, label, f"unexpected character {char!r} at position {pos}")


def _quoted(text: str, start: int, label: str) -> Token:
    """Read a quoted token; a quote is escaped by doubling it, as in SQL."""
    quote = text[start]
    pos = start + 1
    while True:
        end = text.find(quote, pos)
        if end == -1:
            detail = f"unterminated {_QUOTES[quote].value} starting at position {start}"
            raise syntax_error(text, label, detail)
        if text.startswith(quote, end + 1):
            pos = end + 2
            continue
        raw = text[start : end + 1]
        return Token(_QUOTES[quote], raw, raw[1:-1].replace(quote * 2, quote), start)
