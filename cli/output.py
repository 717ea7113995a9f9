"""How `hth-ctl` prints an answer: with `--json` the document as the API sent it, else lines
for people (tables with aligned columns, times to the second)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click

_A = TypeVar("_A")


def echo_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2))


def echo_answer(answer: _A, as_json: bool, lines: Callable[[_A], Iterable[str]]) -> None:
    """The `--json` choice of every listing: the answer as it came, or `lines(answer)`."""
    if as_json:
        echo_json(answer)
        return
    for line in lines(answer):
        click.echo(line)


def table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Rows (the first the header) as lines, in columns as wide as their widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def short_time(timestamp: str) -> str:
    """An ISO 8601 time of the API to the second, with a space: `2026-01-02 03:04:05`."""
    return timestamp[:19].replace("T", " ")
