"""`hth-ctl usage`: storage used per repository (or, with `--namespaces`, per namespace), as
the newest `usage` run measured it (`--refresh` runs one first, with a progress bar)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import click

from cli.output import echo_answer, table
from cli.tasks import api_client, run_task
from registry.maintenance.backup.space import human


@click.command("usage")
@click.option("--top", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Show the N largest repositories (or namespaces).")  # fmt: skip
@click.option("--namespace", help="Only repositories of this namespace (first path component).")
@click.option("--namespaces", "by_namespace", is_flag=True,
              help="Namespaces instead of repositories (a shared blob once in each).")  # fmt: skip
@click.option("--refresh", is_flag=True, help="Measure now (a `usage` task), then show it.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON document.")
def usage(
    top: int, namespace: str | None, by_namespace: bool, refresh: bool, as_json: bool
) -> None:
    """Bytes used per repository (shared blobs once per repository; `unique`: used by no
    other repository) and what a garbage collection would free now."""
    if by_namespace and namespace is not None:
        raise click.UsageError("--namespaces lists every namespace: leave out --namespace")
    if refresh:
        run_task("usage", {})
    page: dict[str, Any]
    if by_namespace:
        page = api_client().get("/api/v1/usage/namespaces", limit=top)
    else:
        page = api_client().get("/api/v1/usage", limit=top, namespace=namespace)
    rows = _namespace_rows if by_namespace else _repository_rows
    echo_answer(page, as_json, partial(_report, rows=rows))


Rows = list[tuple[str, ...]]


def _repository_rows(items: list[dict[str, Any]]) -> Rows:
    rows: Rows = [("REPOSITORY", "SIZE", "UNIQUE", "MANIFESTS", "TAGS", "LAST PUSH")]
    for item in items:
        pushed = item["last_push_at"]
        rows.append(
            (
                item["repository"],
                human(item["size_bytes"]),
                human(item["unique_bytes"]),
                str(item["manifests"]),
                str(item["tags"]),
                f"{datetime.fromisoformat(pushed):%Y-%m-%d %H:%M}" if pushed else "-",
            )
        )
    return rows


def _namespace_rows(items: list[dict[str, Any]]) -> Rows:
    rows: Rows = [("NAMESPACE", "SIZE", "UNIQUE", "REPOSITORIES")]
    for item in items:
        size, unique = human(item["size_bytes"]), human(item["unique_bytes"])
        rows.append((item["namespace"], size, unique, str(item["repositories"])))
    return rows


def _report(page: dict[str, Any], rows: Callable[[list[dict[str, Any]]], Rows]) -> list[str]:
    computed = datetime.fromisoformat(page["computed_at"])
    lines = [
        f"computed {computed:%Y-%m-%d %H:%M:%S} UTC ({age(computed)} ago): "
        f"{human(page['total_bytes'])} referenced, "
        f"a garbage collection would free {human(page['gc_would_free_bytes'])}",
    ]
    lines += table(rows(page["items"]))
    if page["next_cursor"]:
        lines.append("(more: --top N shows more, the API's next_cursor pages through all)")
    return lines


def age(when: datetime, now: datetime | None = None) -> str:
    """'42s', '5m', '3h', '2d': how long ago, roughly."""
    seconds = max(0, int(((now or datetime.now(UTC)) - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
