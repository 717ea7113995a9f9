"""The CLI's duration flags (`--grace-period`, `--expires-in`): checked once, when the
command line is parsed, and sent on as written; the API parses them into its models."""

from __future__ import annotations

import click

from registry.durations import parse_duration


class DurationArg(click.ParamType[str, str]):
    """A duration as the API takes it ("1h", "90s", or seconds: "0", "3600"), checked here."""

    name = "duration"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            parse_duration(value)
        except (ValueError, OverflowError) as exc:
            self.fail(str(exc), param, ctx)
        return value
