"""json.loads for untrusted bytes: UTF-8 only, strict JSON, nesting bounded before parsing.

Python's parser recurses once per array or object level and gives up with RecursionError
near 1,000 levels; every level of a refused document would also be a level some client's
decoder has to survive. So the depth is measured on the bytes first, without recursion.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64

# A JSON string (escapes included); in valid UTF-8 these bytes only ever mean themselves.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))
_SLICE = 1 << 16


class JSONTooDeep(ValueError):
    """Arrays and objects nest deeper than allowed."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def exceeds_depth(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects in `body` nest deeper than `limit` (brackets in strings
    do not count; an unclosed bracket counts as open)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the common case: too few brackets to be that deep
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = 0
    for start in range(0, len(brackets), _SLICE):
        piece = brackets[start : start + _SLICE]
        levels = list(accumulate(map(_STEP.__getitem__, piece), initial=depth))
        if max(levels) > limit:
            return True
        depth = levels[-1]
    return False


def loads(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse `body`; ValueError (JSONTooDeep, UnicodeDecodeError, JSONDecodeError) if it is
    not UTF-8, not strict JSON (NaN, Infinity) or nested deeper than `max_depth`."""
    text = body.decode("utf-8")  # other encodings would hide brackets from the scan
    if exceeds_depth(body, max_depth):
        raise JSONTooDeep(f"arrays and objects nest deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:  # unreachable after the scan; kept so no input can escape as 500
        raise JSONTooDeep(f"arrays and objects nest deeper than {max_depth} levels") from None
