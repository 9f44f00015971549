"""Parsing a request body into JSON that every registry can store and read back, or a clear refusal.

What is refused (the same on SQLite and PostgreSQL, before anything is stored):
- not JSON, or JSON nested so deep the parser gives up: 400;
- ``NaN``/``Infinity`` and numbers too large for a float (``1e400``): JSON has no such values;
- integers outside 64 bits: neither database's JSON functions read them back as numbers;
- nesting deeper than ``MAX_DEPTH`` levels: reading it back would need unbounded recursion;
- strings with a NUL character or a lone surrogate: PostgreSQL cannot store them, UTF-8 has none.
Each of the last four is a 422 naming the path of the first offending value.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64  # far beyond any producer's facets (Spark's logical plans stay under 30)
INT_LIMIT = 2**63


class RefusedJson(Exception):
    """The body cannot be stored as it is: ``status`` is 400 (not JSON) or 422 (JSON we refuse)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _no_constant(name: str) -> Any:
    raise RefusedJson(422, f"{name} is not a JSON number: send a finite number or null.")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise RefusedJson(422, f"The number {text[:40]} is too large for a float: send it as a string.")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 19:  # before int(): Python refuses over 4,300 digits with a ValueError
        raise RefusedJson(422, f"The integer {text[:40]}... is outside 64 bits: send it as a string.")
    value = int(text)
    if not -INT_LIMIT <= value < INT_LIMIT:
        raise RefusedJson(422, f"The integer {text} is outside 64 bits: send it as a string.")
    return value


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int)


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise RefusedJson(422, f"{where} holds a NUL character (\\u0000), which cannot be stored: remove it.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RefusedJson(422, f"{where} holds a lone surrogate (an unpaired \\ud800-\\udfff escape): "
                               "send valid UTF-16 pairs or the character itself.") from None  # fmt: skip


def check_value(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`RefusedJson` unless ``value`` is nested at most ``max_depth`` deep with storable strings."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise RefusedJson(422, f"{where} is nested more than {max_depth} levels deep: flatten it.")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, f"a key in {where}")
                    stack.append((child, f"{where}.{key[:40]}", depth + 1))
            else:
                stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))


def parse_body(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON in ``body`` if it can be stored and read back; :class:`RefusedJson` otherwise."""
    try:
        text = body.decode("utf-8")
        value = _DECODER.decode(text)
    except RefusedJson:
        raise
    except RecursionError:
        raise RefusedJson(400, f"The JSON is nested too deep to parse (at most {max_depth} levels are accepted).") from None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise RefusedJson(400, f"The body is not valid JSON: {exc}") from None
    check_value(value, max_depth)
    return value
