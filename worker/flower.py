"""`hth-ctl run flower`: Flower on 127.0.0.1 behind basic auth (user and password from
the `flower` section; a generated password is kept in <data_dir>/flower.password). This
process checks the port and the credentials, then execs worker/boot.py, which runs Flower
without loading the settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from registry.config import ConfigError, Settings
from registry.ports import check_free, flower_listener
from worker.celery_app import celery_conf
from worker.main import boot


def password_file(settings: Settings) -> Path:
    return settings.data_path() / "flower.password"


def flower_credentials(settings: Settings) -> tuple[str, str]:
    flower = settings.flower
    if flower.password is not None:
        password = flower.password.get_secret_value()
    else:
        path = password_file(settings)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(18) + "\n")
        password = path.read_text().strip()
    if ":" in flower.username or "," in flower.username or "," in password:
        raise ConfigError("flower.username/password: ',' (and ':' in the username) not allowed")
    return flower.username, password


def run_flower(settings: Settings) -> None:
    check_free([flower_listener(settings)])  # before Tornado's bare "Address already in use"
    username, password = flower_credentials(settings)
    # Through the environment, not argv: the password must not show in `ps`.
    os.environ["FLOWER_BASIC_AUTH"] = f"{username}:{password}"
    os.environ.pop("FLOWER_UNAUTHENTICATED_API", None)
    # Flower runs in a process of its own that loads no settings (worker/boot.py).
    args = ["--address=127.0.0.1", f"--port={settings.flower.port}", "--purge_offline_workers=60"]
    boot("flower", {"conf": celery_conf(settings), "args": args}, {})
