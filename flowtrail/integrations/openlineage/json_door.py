"""Parsing a request body into JSON that every registry can store and read back, or a clear refusal.

What is refused (the same on SQLite and PostgreSQL, before anything is stored):
- not UTF-8, not JSON, or JSON nested so deep the parser gives up: 400;
- ``NaN``/``Infinity``, numbers too large for a float (``1e400``), integers outside 64 bits:
  JSON has no such values, and neither database's JSON functions read them back as numbers;
- nesting deeper than ``MAX_DEPTH`` levels: reading it back would need unbounded recursion;
- strings or keys with a NUL character or a lone surrogate: PostgreSQL cannot store them, UTF-8
  has no surrogates.
Each of the last three is a 422 naming where the offending value is.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # far beyond any producer's facets (Spark's logical plans stay under 30)
INT_LIMIT = 2**63
_INVALID = "invalid JSON: "
_RISKY_ESCAPES = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")  # \u0000, or half of a surrogate pair


class RefusedJson(Exception):
    """The body cannot be stored as it is: ``status`` is 400 (not JSON) or 422 (JSON we refuse)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _no_constant(name: str) -> Any:
    raise RefusedJson(422, f"{name} is not a JSON number: send a finite number or null.")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _check_numbers_and_depth(value: Any, max_depth: int) -> None:
    """Level by level (no recursion): containers no deeper than ``max_depth``, numbers storable."""
    level, depth = [value], 1
    while level:
        containers = [item for item in level if type(item) is dict or type(item) is list]
        if containers and depth > max_depth:
            raise RefusedJson(422, f"The JSON is nested more than {max_depth} levels deep: flatten it.")
        deeper = []
        for item in containers:
            for child in item.values() if type(item) is dict else item:
                kind = type(child)
                if kind is dict or kind is list:
                    deeper.append(child)
                elif kind is int and not -INT_LIMIT <= child < INT_LIMIT:
                    raise RefusedJson(422, f"The integer {str(child)[:40]} is outside 64 bits: send it as a string.")
                elif kind is float and child - child != 0:  # inf: a number like 1e400 overflowed
                    raise RefusedJson(422, "A number is too large for a float (like 1e400): send it as a string.")
        level, depth = deeper, depth + 1


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise RefusedJson(422, f"{where} holds a NUL character (\\u0000), which cannot be stored: remove it.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RefusedJson(422, f"{where} holds a lone surrogate (an unpaired \\ud800-\\udfff escape): "
                               "send valid UTF-16 pairs or the character itself.") from None  # fmt: skip


def _check_strings(value: Any) -> None:
    stack: list[tuple[Any, str]] = [(value, "$")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, f"a key in {where}")
                stack.append((child, f"{where}.{key[:40]}"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


def check_value(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`RefusedJson` unless ``value`` can be stored and read back (see the module)."""
    _check_numbers_and_depth(value, max_depth)
    _check_strings(value)


def parse_body(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON in ``body`` if it can be stored and read back; :class:`RefusedJson` otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RefusedJson(400, f"The body is not UTF-8: {exc}") from None
    try:
        return parse_text(text, max_depth)
    except RefusedJson as exc:
        reason = str(exc)
        if reason.startswith(_INVALID):  # say what is invalid: the request body
            raise RefusedJson(400, f"The body is not valid JSON: {reason[len(_INVALID):]}") from None
        raise


def parse_text(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """:func:`parse_body` for text already decoded (a line of an NDJSON file).

    Strings are checked one by one only when the text has a ``\\u0000`` or surrogate escape: a
    NUL or a surrogate cannot reach a parsed string any other way.
    """
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise RefusedJson(400, f"The JSON is nested too deep to parse (at most {max_depth} levels are accepted).") from None
    except ValueError as exc:  # JSONDecodeError is one; so is an integer of more than 4,300 digits
        if "integer string conversion" in str(exc):
            raise RefusedJson(422, "An integer has thousands of digits: send it as a string.") from None
        raise RefusedJson(400, f"{_INVALID}{exc}") from None
    # An array of events is one level more than each event: the bound is per event.
    _check_numbers_and_depth(value, max_depth + 1 if type(value) is list else max_depth)
    if _RISKY_ESCAPES.search(text):
        _check_strings(value)
    return value
