"""The error every configuration problem raises, with messages that name the key path."""

from __future__ import annotations

from pydantic import ValidationError


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the key path."""


def format_errors(exc: ValidationError, prefix: str = "") -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"])
        path = ".".join(p for p in (prefix, loc) if p) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "field required"
        lines.append(f"{path}: {message}")
    return "; ".join(lines)
