"""hth-ctl entry point: global options and the command groups."""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import click

from cli.backup import backup, restore
from cli.gc import garbage_collect, repositories
from cli.instances import list_instances, start, stop
from cli.processes import run_component, run_platform
from cli.reconfigure import reconfigure
from cli.schedules import schedules
from cli.secrets import secrets
from cli.status import status
from cli.tasks import tasks
from cli.tokens import login, tokens
from cli.users import users
from cli.verify import verify_storage
from registry.config import ConfigError, load_settings, read_settings_file, redacted


class Context:
    def __init__(self, config: str | None, debug: bool) -> None:
        self.config = config
        self.debug = debug


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", type=click.Path(dir_okay=False), help="Path of hth.json.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, debug: bool) -> None:
    """Operate an hth-registry platform."""
    ctx.obj = Context(config, debug)


@cli.command()
@click.pass_obj
def up(obj: Context) -> None:
    """Run the whole platform on this machine (Ctrl-C stops it all)."""
    load_settings(obj.config)  # fail early, in the parent, on a bad configuration
    sys.exit(run_platform(obj.config))


@cli.command()
@click.argument("component", type=click.Choice(["registry", "worker", "beat", "flower"]))
@click.pass_obj
def run(obj: Context, component: str) -> None:
    """Run one component in the foreground."""
    run_component(component, load_settings(obj.config), obj.config)


@cli.command("show-config")
@click.option("--check", "check_file", type=click.Path(dir_okay=False), help="Validate FILE.")
@click.pass_obj
def show_config(obj: Context, check_file: str | None) -> None:
    """Print the effective configuration (secrets shown as ***)."""
    from pathlib import Path

    if check_file:
        read_settings_file(Path(check_file))
        click.echo(f"{check_file}: valid")
        return
    settings = load_settings(obj.config)
    document: dict[str, Any] = redacted(settings)
    click.echo(json.dumps(document, indent=2))


cli.add_command(tasks)
cli.add_command(garbage_collect)
cli.add_command(repositories)
cli.add_command(stop)
cli.add_command(start)
cli.add_command(list_instances)
cli.add_command(schedules)
cli.add_command(backup)
cli.add_command(restore)
cli.add_command(reconfigure)
cli.add_command(users)
cli.add_command(tokens)
cli.add_command(login)
cli.add_command(status)
cli.add_command(verify_storage)
cli.add_command(secrets)


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        click.echo(f"hth-ctl: configuration error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - one clear line unless --debug
        if debug:
            traceback.print_exc()
        click.echo(f"hth-ctl: error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
