"""`hth-ctl backup [create|list|verify|export|prune]` and `hth-ctl restore ID|FILE`: backup
tasks enqueued through the REST API and followed with a progress bar until they end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import click

from cli.output import echo_answer, short_time
from cli.tasks import api_client, run_task
from registry.maintenance.backup.prune import kept_text
from registry.maintenance.backup.space import human
from registry.maintenance.backup.store import is_backup_id

_no_verify = click.option("--no-verify", is_flag=True, help="Skip re-hashing the new blobs.")
_no_prune = click.option("--no-prune", is_flag=True, help="Keep every older backup this time.")


@click.group(invoke_without_command=True)
@_no_verify
@_no_prune
@click.pass_context
def backup(ctx: click.Context, no_verify: bool, no_prune: bool) -> None:
    """Back up the registry (filesystem storage): with no command, create a backup."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(create, no_verify=no_verify, no_prune=no_prune)


@backup.command()
@_no_verify
@_no_prune
def create(no_verify: bool, no_prune: bool) -> None:
    """Take a backup now (incremental: only new blobs are copied)."""
    params = {"verify": not no_verify, "prune": not no_prune}
    result = run_task("backup", params, on_failure=_print_problems)
    already = ""
    if "blobs_already_backed_up" in result:  # a worker older than the CLI does not say
        already = (
            f"; {result['blobs_already_backed_up']} blobs "
            f"({human(result['bytes_already_backed_up'])}) already backed up, not copied again"
        )
    click.echo(
        f"backup {result['backup_id']}: {result['repositories']} repositories, "
        f"{result['blobs']} blobs ({human(result['bytes'])}); copied {result['blobs_copied']} "
        f"new blobs ({human(result['bytes_copied'])}){already}; {result['verification']}"
    )
    pruned = result.get("pruned")
    if pruned and pruned.get("skipped"):
        click.echo(f"prune skipped: {pruned['skipped']}")
    elif pruned and "keep" in pruned:
        click.echo(f"prune: {_pruned_text(pruned)}")


@backup.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON page.")
def list_backups(as_json: bool) -> None:
    """Backups, newest first, with their size, new bytes and verification state."""
    echo_answer(api_client().get("/api/v1/backups"), as_json, _backup_lines)


def _backup_lines(page: dict[str, Any]) -> Iterator[str]:
    header = f"{'ID':23}  {'CREATED':19}  {'REPOS':>5}  {'BLOBS':>7}  {'SIZE':>10}  {'NEW':>10}"
    yield f"{header}  VERIFIED"
    for item in page["items"]:
        verification = item["verification"]
        state = verification["state"]
        if verification["problem_count"]:
            state += f" ({verification['problem_count']} problems)"
        yield (
            f"{item['id']:23}  {short_time(item['created_at']):19}  {item['repositories']:>5}  "
            f"{item['blobs']:>7}  {human(item['size']):>10}  {human(item['new_bytes']):>10}  "
            f"{state}"
        )


@backup.command()
@click.argument("backup_id")
def verify(backup_id: str) -> None:
    """Re-hash every blob of a backup; exit 1 and name what is corrupt."""
    result = run_task("backup_verify", {"backup_id": backup_id}, on_failure=_print_problems)
    click.echo(f"backup {backup_id}: {result['state']}, {result['blobs_checked']} blobs checked")


def _print_problems(result: dict[str, Any]) -> None:
    """What a failed backup or verify found, one line each (the error follows on stderr)."""
    for problem in result.get("problems", []):
        where = ", ".join(problem.get("repositories", [])) or "-"
        click.echo(
            f"corrupt: {problem['path']} ({problem['digest']}; {where}): {problem['problem']}"
        )


@backup.command()
@click.argument("backup_id")
@click.argument("file", type=click.Path(dir_okay=False))
def export(backup_id: str, file: str) -> None:
    """Write a backup as one .tar.zst FILE (written by the worker, on its machine)."""
    params = {"backup_id": backup_id, "file": os.path.abspath(file)}
    result = run_task("backup_export", params)
    click.echo(f"{result['file']}: {human(result['bytes'])}, {result['blobs']} blobs")


@backup.command()
@click.option("--keep", type=click.IntRange(min=1), help="Backups to keep (default: keep).")
def prune(keep: int | None) -> None:
    """Delete all but the newest backups, and the blobs only they used."""
    result = run_task("backup_prune", {} if keep is None else {"keep": keep})
    if result.get("skipped"):
        raise click.ClickException(f"prune skipped: {result['skipped']}")
    click.echo(_pruned_text(result))


def _pruned_text(pruned: dict[str, Any]) -> str:
    deleted = (
        f"deleted {len(pruned['deleted'])} backups, {pruned['blobs_deleted']} blobs "
        f"({human(pruned['bytes_freed'])})"
    )
    if "keep" not in pruned:  # a worker older than the CLI does not say why
        return f"{deleted}; kept {len(pruned['kept'])}"
    return f"{deleted}; {kept_text(pruned)}"


@click.command()
@click.argument("source")
@click.option("--keep-previous", is_flag=True, help="Keep the replaced tree beside the root.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore(source: str, keep_previous: bool, yes: bool) -> None:
    """Replace the registry's storage with backup SOURCE (an id, or an exported file)."""
    if is_backup_id(source):
        params: dict[str, Any] = {"backup_id": source}
    else:
        params = {"file": os.path.abspath(source)}
    if keep_previous:
        params["keep_previous"] = True
    if not yes:
        click.confirm(
            f"Replace the whole registry storage with {source}? Instances stop meanwhile",
            abort=True,
        )
    result = run_task("restore", params)
    click.echo(
        f"restored backup {result['backup_id']}: {result['repositories']} repositories, "
        f"{result['blobs']} blobs ({human(result['bytes'])})"
    )
