"""Two registry instances sharing one platform's storage, database and queue (and a worker):
the cluster that `hth-ctl reconfigure` switches live, for its e2e tests and its benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testbed.processes import RegistryProcess, deep_merge
from testbed.task_platform import RedisNamespace, TaskPlatform

FAST = {"cluster": {"heartbeat_interval": "0.2s"}}


class Cluster:
    """A registry+worker platform plus a second registry instance on the same database."""

    def __init__(self, workdir: Path) -> None:
        self.namespace = RedisNamespace()
        queue = {"broker_url": self.namespace.url, "key_prefix": self.namespace.prefix}
        config = {"queue": queue, "docker_registry": {"http": {"workers": 1}}, **FAST}
        self.platform = TaskPlatform(workdir / "platform", config=config)
        self.platform.start("registry", "worker")
        shared = self.platform.full_config()
        second = {
            "data_dir": shared["data_dir"],
            "queue": shared["queue"],
            "docker_registry": {"storage_settings": shared["docker_registry"]["storage_settings"]},
            **FAST,
        }
        self.second = RegistryProcess(workdir / "second", second).start()

    @property
    def hosts(self) -> list[str]:
        return [f"127.0.0.1:{self.platform.port}", self.second.host]

    @property
    def storage_root(self) -> Path:
        return Path(
            self.platform.full_config()["docker_registry"]["storage_settings"]["rootdirectory"]
        )

    def reconfigure(self, storage: tuple[str, dict[str, Any]], **params: Any) -> dict[str, Any]:
        driver, settings = storage
        document = deep_merge(
            self.platform.full_config(), {"docker_registry": {"storage_driver": driver}}
        )
        document["docker_registry"]["storage_settings"] = settings
        path = self.platform.workdir / f"hth-{driver}.json"
        path.write_text(json.dumps(document))
        task = self.platform.enqueue("reconfigure", file=str(path), **params)
        return self.platform.wait_finished(task["id"], timeout=120)

    def stop(self) -> None:
        self.second.stop()
        self.platform.stop()
        self.namespace.cleanup()
