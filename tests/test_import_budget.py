"""Each process imports only what it uses (docs/benchmarks.md, "Footprint"): the `up`
supervisor nothing of the platform, a registry serving requests neither Celery nor Alembic
nor the token libraries nor SQLAlchemy's ORM, one enqueueing a task or answering the status
page no Celery (nor PyYAML or billiard through Kombu), an idle Celery worker and Flower no
pydantic or SQLAlchemy, an idle beat no broker client. One interpreter per check, all
started at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from registry.config import parse_settings
from registry.db.database import open_database

ROOT = Path(__file__).resolve().parents[1]

# Top-level packages, and a few submodules: Celery's command line (every celery subcommand:
# 22 MiB), uvicorn's (click, watchfiles, multiprocessing), pydantic's v1 layer. A module
# marked absent (None in sys.modules, api/lean_imports.py) is not imported.
SUBMODULES = "{'celery.bin.celery', 'uvicorn.main', 'pydantic.v1'}"
REPORT = (
    "import json, sys; loaded = {m for m, v in sys.modules.items() if v is not None};"
    " print(json.dumps(sorted({m.split('.')[0] for m in loaded}"
    f" | ({SUBMODULES} & loaded))))"
)

SERVE_REQUESTS = """
import cli.http_worker  # the entry of an HTTP worker process
from fastapi.testclient import TestClient
from api.app import create_app_from_env
with TestClient(create_app_from_env()) as client:
    assert client.get("/v2/").status_code == 200
    assert client.get("/v2/some/image/manifests/latest").status_code == 404
"""

ENQUEUE = """
import cli.http_worker
from fastapi.testclient import TestClient
from api.app import create_app_from_env
with TestClient(create_app_from_env()) as client:
    task = {"kind": "gc", "params": {"grace_period": "0s"}}
    assert client.post("/api/v1/tasks", json=task).status_code == 202
"""

STATUS = """
import cli.http_worker
from fastapi.testclient import TestClient
from api.app import create_app_from_env
with TestClient(create_app_from_env()) as client:
    assert client.get("/api/v1/status").json()["workers"] == {"names": [], "error": None}
"""

# process -> (code it runs, top-level packages it must not have imported)
CHECKS: dict[str, tuple[str, set[str]]] = {
    "up supervisor": (
        "import cli.supervisor",
        {"click", "pydantic", "registry", "sqlalchemy", "celery", "api", "worker"},
    ),
    "hth-ctl (before a command)": (
        "import cli.main",
        {"sqlalchemy", "alembic", "celery", "kombu", "fastapi", "httpx", "tqdm"},
    ),
    "registry serving requests": (
        SERVE_REQUESTS,
        {"celery", "kombu", "redis", "alembic", "jwt", "cryptography", "boto3", "azure"}
        | {"argon2", "croniter"}  # auth is off here; no schedule was read
        | {"uvicorn.main", "watchfiles", "multiprocessing", "pydantic.v1"},  # (httpx: click)
    ),
    # The message goes out with Kombu alone (worker/publish.py), without the YAML serializer
    # nor billiard Kombu's import would add (api/lean_imports.py).
    "registry enqueueing a task": (
        ENQUEUE,
        {"celery", "alembic", "sqlmodel", "sqlalchemy.orm", "uvicorn.main", "pydantic.v1"}
        | {"yaml", "billiard"},
    ),
    # The workers are pinged with Kombu alone (worker/control.py).
    "registry answering the status page": (STATUS, {"celery", "alembic", "yaml", "billiard"}),
    # `hth-ctl run worker|flower` exec worker/boot.py: the Celery worker's main process (its
    # pool processes fork from it) and Flower load no settings; a task loads what it needs.
    "worker (main and idle pool processes)": (
        "import worker.boot, worker.tasks, worker.metrics, celery.apps.worker",
        {"pydantic", "sqlalchemy", "sqlmodel", "alembic", "fastapi", "redis", "cryptography"}
        | {"argon2", "zstandard", "celery.bin.celery"},
    ),
    "flower": (
        "import worker.boot, flower.command",
        {"pydantic", "sqlalchemy", "fastapi", "celery.bin.celery"},
    ),
    "beat": ("import cli.main, scheduler.main", {"celery", "kombu", "redis", "alembic"}),
}


def test_each_process_imports_only_what_it_uses(tmp_path: Path) -> None:
    config = tmp_path / "hth.json"
    config.write_text(json.dumps({"data_dir": str(tmp_path / "var")}))
    # Migrated here: a process that finds its schema current never imports Alembic.
    open_database(parse_settings(json.loads(config.read_text()))).engine.dispose()
    env = {**os.environ, "HTH_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    running = {
        name: subprocess.Popen(
            [sys.executable, "-c", f"{code}\n{REPORT}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (code, _) in CHECKS.items()
    }
    for name, proc in running.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name}: {err[-2000:]}"
        imported = set(json.loads(out.strip().splitlines()[-1]))
        unwanted = CHECKS[name][1] & imported
        assert not unwanted, f"{name} imported {sorted(unwanted)}"
