"""Durations as used throughout hth.json and task params: Go-style text ("90s", "1h30m",
"168h") or a number of seconds (3600, 0.5, "3600"). `Duration` is the pydantic field type:
a value is parsed once, when the model is validated, into a `timedelta`, and shown (JSON,
show-config, stored task params) as Go-style text again (`duration_text`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, TypeAdapter, WithJsonSchema

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


def as_duration(value: object) -> timedelta:
    """A field's value as a timedelta: one already is, text or seconds are parsed."""
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"a duration must not be negative, got '-{duration_text(-value)}'")
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"invalid duration {value!r} ({_EXPECTED})")
    try:
        return parse_duration(value)
    except OverflowError:  # more days than a timedelta holds
        raise ValueError(f"duration {value!r} is too long") from None


def duration_text(value: timedelta) -> str:
    """A duration as Go-style text in its largest whole unit up to hours: 3600s -> "1h",
    90s -> "90s", 168h -> "168h", 0 -> "0s"; below a second "250ms", else "1.5s"."""
    micros = value // timedelta(microseconds=1)
    if micros == 0:
        return "0s"
    for unit, size in (("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000)):
        if micros % size == 0:
            return f"{micros // size}{unit}"
    if micros < 1_000_000 and micros % 1000 == 0:
        return f"{micros // 1000}ms"
    return f"{micros / 1_000_000:.6f}".rstrip("0") + "s"


def _default_as_text(schema: dict[str, Any]) -> None:
    # A JSON schema's default is encoded without the field's serializer (as ISO 8601,
    # "PT1M"): show it as the text the field is written and shown with ("1m").
    default = schema.get("default")
    if isinstance(default, str):
        schema["default"] = duration_text(TypeAdapter(timedelta).validate_python(default))


# A duration field: text ("90s") or a JSON number of seconds in, a timedelta in the model,
# Go-style text again in JSON (model_dump(mode="json"), show-config, stored params).
Duration = Annotated[
    timedelta,
    BeforeValidator(as_duration),
    PlainSerializer(duration_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "examples": ["90s", "1h30m"]}, {"type": "number"}],
            "description": "a duration: Go-style text or a number of seconds",
        }
    ),
    Field(json_schema_extra=_default_as_text),
]


def format_duration(seconds: float) -> str:
    """Seconds as the shortest text for summaries people read (days included, so not
    Go-style): 3600 -> "1h", 5400 -> "1h30m", 0 -> "0s". Fields show `duration_text`."""
    whole, fraction = divmod(seconds, 1)
    if fraction:
        return f"{seconds:g}s"
    parts, left = [], int(whole)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
