"""Untrusted JSON bodies into plain dicts, refusing anything that could hurt later layers.

Every failure is an InvalidDocument: the inbox route turns that into 400, never 500.
"""

import json
import math
import re
from itertools import accumulate
from typing import Any

from federation.errors import InvalidDocument

MAX_DEPTH = 32
# Wide enough for any count or timestamp, narrow enough for a BIGINT column.
MAX_INT = 2**63 - 1

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
# Once escapes are gone a string cannot contain a quote, so this never backtracks far.
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DELTA = [0] * 256
for _byte in b"[{":
    _DELTA[_byte] = 1
for _byte in b"]}":
    _DELTA[_byte] = -1


def parse_activity(body: bytes, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Parse a JSON object; raise InvalidDocument, and nothing else, for anything unsafe."""
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise InvalidDocument("body must be bytes")
    data = bytes(body)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if nesting_depth(data) > max_depth:
        raise InvalidDocument(f"JSON nested deeper than {max_depth} levels")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidDocument("body is not UTF-8") from e
    try:
        document = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except InvalidDocument:
        raise
    except RecursionError as e:
        # Only reachable if the caller's own stack is already deep; still a bad document to us.
        raise InvalidDocument("JSON nested too deeply") from e
    except ValueError as e:
        raise InvalidDocument(f"not JSON: {e}") from e
    if not isinstance(document, dict):
        raise InvalidDocument("top level is not a JSON object")
    _reject_lone_surrogates(document)
    return document


def nesting_depth(data: bytes) -> int:
    """Deepest bracket nesting, found without recursion (exact for valid JSON)."""
    brackets = _STRING.sub(b"", _ESCAPE.sub(b"", data)).translate(None, _NOT_BRACKETS)
    if len(brackets) <= 1:
        return len(brackets)
    return max(accumulate(map(_DELTA.__getitem__, brackets)))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        # Two parsers could pick different values for a repeated key (one verifies, one acts).
        raise InvalidDocument("duplicate key in JSON object")
    return document


def _bounded_int(text: str) -> int:
    if len(text) > 20:
        raise InvalidDocument("number too large")
    value = int(text)
    if abs(value) > MAX_INT:
        raise InvalidDocument("number too large")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidDocument("number too large")
    return value


def _no_constant(text: str) -> None:
    raise InvalidDocument(f"{text} is not valid JSON")


def _reject_lone_surrogates(value: Any) -> None:
    # JSON may escape half a surrogate pair ("\ud800"); such a str cannot be encoded back to UTF-8,
    # so it would crash whatever stores or re-serves it.
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as e:
                raise InvalidDocument("lone surrogate in JSON string") from e
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_lone_surrogates(key)
            _reject_lone_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            _reject_lone_surrogates(item)
