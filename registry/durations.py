"""Go-style durations ("90s", "1h30m", "168h") as used throughout hth.json."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> timedelta:
    """Parse "1h30m" and friends; "0" is zero. Raises ValueError on anything else."""
    text = text.strip()
    if text == "0":
        return timedelta(0)
    pos, seconds = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {text!r} (expected e.g. '90s', '1h30m', '168h')")
    return timedelta(seconds=seconds)
