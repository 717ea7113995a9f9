"""`hth-ctl secrets new-key|rotate`: the keys that encrypt the secrets kept in the database
(configuration generations). `rotate` works on the database directly, with the keys of this
machine's hth.json (`database.secrets_keys`: the new key first, then the old ones)."""

from __future__ import annotations

import click
from cryptography.fernet import Fernet

from registry.cluster.generations import reseal
from registry.cluster.secrets import KEYS, keyring_for
from registry.config import load_settings
from registry.db.database import open_database


@click.group()
def secrets() -> None:
    """Keys that encrypt the secrets stored in the database."""


@secrets.command("new-key")
def new_key() -> None:
    """Print a new random key for database.secrets_keys."""
    click.echo(Fernet.generate_key().decode("ascii"))


@secrets.command()
def rotate() -> None:
    """Re-encrypt every configuration generation with the first key of database.secrets_keys."""
    obj = click.get_current_context().find_root().obj
    settings = load_settings(getattr(obj, "config", None))
    keyring = keyring_for(settings)
    if keyring is None:
        raise click.ClickException(f"{KEYS} is not set: there is no key to encrypt with")
    report = reseal(open_database(settings), keyring)
    click.echo(
        f"re-encrypted {len(report.resealed)} of {report.total} configuration generations "
        f"with key {keyring.primary} ({keyring.source})"
    )
    if report.failed:
        for problem in report.failed.values():
            click.echo(problem, err=True)
        numbers = ", ".join(str(number) for number in sorted(report.failed))
        raise click.ClickException(f"generations {numbers} could not be decrypted: add their key")
