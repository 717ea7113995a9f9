"""`hth-ctl docker-registry-garbage-collect` and `hth-ctl repositories ...` (REST API)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any
from urllib.parse import quote

import click

from cli.durations import DurationArg
from cli.output import echo_answer
from cli.tasks import api_client, run_task
from registry.maintenance.gc.kept import kept_lines
from registry.words import plural


@click.command("docker-registry-garbage-collect")
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted and freed.")
@click.option(
    "--delete-untagged/--keep-untagged",
    default=None,
    help="Also delete manifests no tag points at (default: docker_registry.gc).",
)
@click.option(
    "--grace-period",
    type=DurationArg(),
    help="Never delete what was written more recently than this: 1h, 90s, or seconds "
    "(0 frees everything unreferenced now; default: docker_registry.gc.grace_period).",
)
@click.option(
    "--mode",
    type=click.Choice(["online", "readonly", "stop"]),
    help="What registry instances refuse meanwhile: nothing (online), writes (readonly) or "
    "everything (stop); default: docker_registry.gc.cluster_mode.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the task's result as JSON.")
def garbage_collect(
    dry_run: bool,
    delete_untagged: bool | None,
    grace_period: str | None,
    mode: str | None,
    as_json: bool,
) -> None:
    """Free the storage of deleted manifests and repositories, cluster-wide and safely."""
    params: dict[str, Any] = {"dry_run": dry_run}
    optional = {"delete_untagged": delete_untagged, "grace_period": grace_period}
    params.update({key: value for key, value in optional.items() if value is not None})
    if mode:
        params["cluster_mode"] = mode
    result = run_task("gc", params)
    echo_answer(result, as_json, partial(_gc_lines, dry_run=dry_run))


def _gc_lines(result: dict[str, Any], dry_run: bool) -> Iterator[str]:
    verb = "would free" if dry_run else "freed"
    freed = result["bytes_freed"] + result["upload_bytes_freed"]
    yield (
        f"{plural(result['blobs_deleted'], 'blob')}, "
        f"{plural(result['manifests_deleted'], 'manifest')}, "
        f"{plural(len(result['repositories_deleted']), 'repository', 'repositories')}, "
        f"{plural(result['uploads_purged'], 'upload')}: {verb} {plural(freed, 'byte')} "
        f"in {result['seconds']:.1f}s"
    )
    if "kept" in result:  # a worker older than the CLI does not say
        yield from kept_lines(result["kept"], result["grace_period_seconds"], dry_run)


@click.group()
def repositories() -> None:
    """Repositories: list them, soft-delete one (the next GC frees its storage)."""


@repositories.command("list")
@click.option("--deleted", "include_deleted", is_flag=True, help="Include soft-deleted ones.")
def list_repositories(include_deleted: bool) -> None:
    client, cursor = api_client(), None
    while True:
        page = client.get(
            "/api/v1/repositories", cursor=cursor, include_deleted=include_deleted or None
        )
        for item in page["items"]:
            click.echo(item["name"] + ("  (deleted)" if item["deleted"] else ""))
        cursor = page["next_cursor"]
        if not cursor:
            return


@repositories.command("delete")
@click.argument("name")
def delete_repository(name: str) -> None:
    """Stop serving NAME at once; `hth-ctl docker-registry-garbage-collect` frees it."""
    answer = api_client().request("DELETE", f"/api/v1/repositories/{quote(name, safe='/')}")
    click.echo(f"{name}: {answer.json()['detail']}")
