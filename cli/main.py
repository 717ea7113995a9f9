"""hth-ctl entry point: global options and the command groups."""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click

from cli.output import echo_json
from registry.config import ConfigError, load_settings, read_settings_file, redacted

# Command name -> "module:attribute", imported only when that command runs (or --help lists
# them): `hth-ctl run X` and the HTTP workers it spawns, which import this module again,
# then carry only what X needs (docs/benchmarks.md, "Footprint").
LAZY_COMMANDS = {
    "tasks": "cli.tasks:tasks",
    "docker-registry-garbage-collect": "cli.gc:garbage_collect",
    "repositories": "cli.gc:repositories",
    "stop": "cli.instances:stop",
    "start": "cli.instances:start",
    "instances": "cli.instances:list_instances",
    "schedules": "cli.schedules:schedules",
    "backup": "cli.backup:backup",
    "restore": "cli.backup:restore",
    "reconfigure": "cli.reconfigure:reconfigure",
    "users": "cli.users:users",
    "tokens": "cli.tokens:tokens",
    "me": "cli.me:me",
    "usage": "cli.usage:usage",
    "protect": "cli.protect:protect",
    "retention": "cli.retention:retention",
    "login": "cli.tokens:login",
    "status": "cli.status:status",
    "verify-storage": "cli.verify:verify_storage",
    "secrets": "cli.secrets:secrets",
}


class LazyGroup(click.Group):
    """A group whose LAZY_COMMANDS are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            module, attribute = LAZY_COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


class Context:
    def __init__(self, config: str | None, debug: bool) -> None:
        self.config = config
        self.debug = debug


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    from cli.processes import run_platform

    load_settings(obj.config)  # fail early, in the parent, on a bad configuration
    sys.exit(run_platform(obj.config))


@cli.command()
@click.argument("component", type=click.Choice(["registry", "worker", "beat", "flower"]))
@click.pass_obj
def run(obj: Context, component: str) -> None:
    """Run one component in the foreground."""
    from cli.processes import run_component

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
    echo_json(document)


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
