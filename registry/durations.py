"""Durations as used throughout hth.json and task params: Go-style text ("90s", "1h30m",
"168h") or a number of seconds (3600, 0.5, "3600"); `Duration` is the pydantic field type."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_EXPECTED = "expected e.g. '90s', '1h30m', '168h' or a number of seconds such as 3600"


def parse_duration(value: str | float) -> timedelta:
    """Parse "1h30m" and friends, or seconds as a number or a bare number ("0", "3600").
    Raises ValueError on anything else, negative durations included."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"invalid duration {value!r} ({_EXPECTED})")
    if not isinstance(value, str):
        return _seconds(float(value), value)
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"a duration must not be negative, got {value!r}")
    if _SECONDS.fullmatch(text):
        return _seconds(float(text), value)
    pos, seconds = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {value!r} ({_EXPECTED})")
    return timedelta(seconds=seconds)


def _seconds(seconds: float, given: object) -> timedelta:
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        raise ValueError(f"invalid duration {given!r} ({_EXPECTED})")
    if seconds < 0:
        raise ValueError(f"a duration must not be negative, got {given!r}")
    return timedelta(seconds=seconds)


def normalise_duration(value: object) -> str:
    """A duration as stored text: strings are kept as written (once checked), numbers of
    seconds become "<n>s", so stored params and settings stay strings parse_duration reads."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"invalid duration {value!r} ({_EXPECTED})")
    parse_duration(value)
    if isinstance(value, str):
        return value
    if isinstance(value, int) or value.is_integer():
        return f"{int(value)}s"
    return f"{format(value, 'f').rstrip('0')}s"


def duration_seconds(value: Any) -> Any:
    """A duration given as text ("90s") as seconds, for fields that hold a float of seconds;
    anything else is left to the field's own checks."""
    if isinstance(value, str):
        return parse_duration(value).total_seconds()
    return value


# A duration field: text as written ("90s") or a JSON number of seconds (stored as "90s").
Duration = Annotated[
    str,
    BeforeValidator(normalise_duration),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "examples": ["90s", "1h30m"]}, {"type": "number"}],
            "description": "a duration: Go-style text or a number of seconds",
        }
    ),
]


def format_duration(seconds: float) -> str:
    """Seconds as the shortest Go-style text: 3600 -> "1h", 5400 -> "1h30m", 0 -> "0s"."""
    whole, fraction = divmod(seconds, 1)
    if fraction:
        return f"{seconds:g}s"
    parts, left = [], int(whole)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
