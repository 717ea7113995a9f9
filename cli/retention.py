"""`hth-ctl retention ...`: retention policies through /api/v1/retention-policies, and
runs of them (`run NAME [--dry-run]` follows the task and prints what it deleted)."""

from __future__ import annotations

from typing import Any

import click

from cli.output import echo_answer, table
from cli.tasks import api_client, wait_for
from registry.words import plural

PATH = "/api/v1/retention-policies"
KEEP = ("keep_last", "keep_within", "keep_tags")


@click.group()
def retention() -> None:
    """Retention policies: list, show, add, set, delete, run."""


def _policy_options(command: Any) -> Any:
    options = [
        click.option("--repositories", help="Repository glob, e.g. 'team/**'."),
        click.option("--keep-last", type=click.IntRange(1), help="Keep the newest N tags."),
        click.option("--keep-within", help="Keep tags pushed within it, e.g. 14d."),
        click.option("--keep-tags", help=r"Keep tags this regex finds, e.g. '^v\d+'."),
        click.option(
            "--delete-untagged/--keep-untagged",
            default=None,
            help="Also delete manifests left without a tag.",
        ),  # fmt: skip
        click.option("--cron", help="Run on this schedule (5 fields, UTC); '' removes it."),
        click.option("--gc-after/--no-gc-after", default=None, help="Enqueue a gc after a run."),
        click.option("--enabled/--disabled", default=None, help="Whether the schedule fires."),
        click.option(
            "--confirm-delete-all",
            is_flag=True,
            default=None,
            help="Allow a policy without any keep field.",
        ),  # fmt: skip
        click.option("--json", "as_json", is_flag=True, help="Print the policy as JSON."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _fields(options: dict[str, Any]) -> dict[str, Any]:
    """The options given on the command line, as policy fields ('' clears cron)."""
    body = {key: value for key, value in options.items() if value is not None}
    if body.get("cron") == "":
        body["cron"] = None
    if isinstance(body.get("keep_within"), str) and body["keep_within"].isdigit():
        body["keep_within"] = int(body["keep_within"])
    return body


@retention.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON list.")
def list_policies(as_json: bool) -> None:
    """Every policy: what it selects and keeps, its schedule."""
    echo_answer(api_client().get(PATH)["items"], as_json, _policy_table)


def _policy_table(items: list[dict[str, Any]]) -> list[str]:
    rows: list[tuple[str, ...]] = [
        ("NAME", "REPOSITORIES", "KEEPS", "UNTAGGED", "CRON", "GC AFTER")
    ]
    for item in items:
        cron = (item["cron"] or "-") + ("" if item["enabled"] else " (disabled)")
        untagged = "delete" if item["delete_untagged"] else "keep"
        gc_after = "yes" if item["gc_after"] else "no"
        rows.append((item["name"], item["repositories"], keeps(item), untagged, cron, gc_after))
    return table(rows)


@retention.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the policy as JSON.")
def show(name: str, as_json: bool) -> None:
    """Policy NAME, readable (or its JSON document)."""
    _print_policy(api_client().get(f"{PATH}/{name}"), as_json)


@retention.command()
@click.argument("name")
@_policy_options
def add(name: str, as_json: bool, **options: Any) -> None:
    """Create policy NAME, e.g. add ci --repositories 'team/**' --keep-last 10."""
    body = {"name": name, **_fields(options)}
    if "repositories" not in body:
        raise click.UsageError("--repositories is required")
    _print_policy(api_client().post(PATH, body), as_json)


@retention.command("set")
@click.argument("name")
@_policy_options
@click.option("--clear", multiple=True, type=click.Choice(KEEP), help="Remove a keep field.")
def set_policy(name: str, as_json: bool, clear: tuple[str, ...], **options: Any) -> None:
    """Change the fields given (PATCH); --clear keep_last removes that rule."""
    body = {**_fields(options), **dict.fromkeys(clear)}
    response = api_client().request("PATCH", f"{PATH}/{name}", json=body)
    _print_policy(response.json(), as_json)


@retention.command()
@click.argument("name")
def delete(name: str) -> None:
    """Delete policy NAME and its schedule."""
    api_client().delete(f"{PATH}/{name}")
    click.echo(f"deleted retention policy {name}")


@retention.command()
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; change nothing.")
@click.option("--no-wait", is_flag=True, help="Print the task id and return.")
@click.option("--json", "as_json", is_flag=True, help="Print the task's result as JSON.")
def run(name: str, dry_run: bool, no_wait: bool, as_json: bool) -> None:
    """Run policy NAME now as a `retention` task and print what it deleted."""
    client = api_client()
    task = client.post(f"{PATH}/{name}/run", {"dry_run": dry_run, "trigger": "cli"})
    if no_wait:
        click.echo(task["id"])
        return
    click.echo(f"task {task['id']} (retention)", err=True)
    done = wait_for(client, task["id"], timeout=None)
    if done["state"] != "succeeded":
        reason = f": {done['error']}" if done.get("error") else ""
        raise click.ClickException(f"task {done['id']} {done['state']}{reason}")
    result: dict[str, Any] = done["result"] or {}
    echo_answer(result, as_json, report)


def report(result: dict[str, Any]) -> list[str]:
    """A run's result as lines: totals, then each repository's deletions."""
    verb = "would delete" if result["dry_run"] else "deleted"
    lines = [
        f"policy {result['policy']}: {plural(result['repositories'], 'repository', 'repositories')}"
        f", {verb} {plural(result['tags_deleted'], 'tag')} and "
        f"{plural(result['manifests_deleted'], 'untagged manifest')}, "
        f"kept {plural(result['tags_kept'], 'tag')}"
    ]
    for repository, deleted in sorted(result["deleted"].items()):
        if deleted["tags"]:
            lines.append(f"  {repository}: tags {', '.join(deleted['tags'])}")
        if deleted["manifests"]:
            lines.append(
                f"  {repository}: {plural(len(deleted['manifests']), 'untagged manifest')}"
            )
    for repository, reasons in sorted(result.get("skipped", {}).items()):
        lines += [f"  {repository}: {reason}" for reason in reasons]
    if result.get("gc_task"):
        lines.append(f"gc task {result['gc_task']} enqueued")
    return lines


def keeps(policy: dict[str, Any]) -> str:
    parts = []
    if policy["keep_last"] is not None:
        parts.append(f"last {policy['keep_last']}")
    if policy["keep_within"] is not None:
        parts.append(f"within {policy['keep_within']}")
    if policy["keep_tags"] is not None:
        parts.append(f"tags /{policy['keep_tags']}/")
    return " or ".join(parts) or "nothing (deletes all)"


def _print_policy(policy: dict[str, Any], as_json: bool) -> None:
    echo_answer(policy, as_json, _policy_lines)


def _policy_lines(policy: dict[str, Any]) -> list[str]:
    cron = policy["cron"] or "none (run by hand)"
    return [
        f"{policy['name']}: repositories {policy['repositories']}",
        f"  keeps: {keeps(policy)} (a tag stays if any rule keeps it)",
        f"  untagged manifests: {'deleted' if policy['delete_untagged'] else 'kept'}",
        f"  schedule: {cron}{'' if policy['enabled'] else ' (disabled)'}",
        f"  gc after a run: {'yes' if policy['gc_after'] else 'no'}",
    ]
