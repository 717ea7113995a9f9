"""The CLI's API token: `$HTH_TOKEN`, else `~/.config/hth/token` (or under
$XDG_CONFIG_HOME), which must be readable by its owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import click

TOKEN_ENV = "HTH_TOKEN"


def token_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hth" / "token"


def load_token() -> str | None:
    """The token to send, or None; a token file others may read is refused, not used."""
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env
    path = token_file()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise click.ClickException(
            f"{path} holds a secret but has permissions {stat.S_IMODE(mode):04o}; "
            f"run `chmod 600 {path}` (the token file must be readable by its owner only)"
        )
    return path.read_text(encoding="utf-8").strip() or None


def save_token(token: str) -> Path:
    """Write the token file with permissions 0600 (its folder 0700)."""
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)  # an older file keeps its mode through O_CREAT
    return path
