"""Run CNCF Distribution's registry (Debian `docker-registry serve`) on filesystem storage."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from testbed.processes import free_port, stop_process, wait_http

DISTRIBUTION_BINARY = "docker-registry"


def distribution_config(root: Path, port: int, blob_cache: bool) -> dict[str, object]:
    storage: dict[str, object] = {
        "filesystem": {"rootdirectory": str(root)},
        "delete": {"enabled": True},
        "maintenance": {"uploadpurging": {"enabled": False}},
    }
    if blob_cache:
        # Debian's packaged config.yml enables this cache; it is what operators run.
        storage["cache"] = {"blobdescriptor": "inmemory"}
    return {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": storage,
        "http": {"addr": f"127.0.0.1:{port}"},
    }


@dataclass
class DistributionProcess:
    """`docker-registry serve config.yml` serving the tree under `storage_root`.

    `storage_root` is the same value our hth.json calls `rootdirectory`: both put
    `docker/registry/v2/` beneath it, so the two registries can share one tree.
    """

    workdir: Path
    storage_root: Path
    blob_cache: bool = False
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self) -> DistributionProcess:
        binary = shutil.which(DISTRIBUTION_BINARY)
        if binary is None:
            raise RuntimeError("docker-registry is not installed (apt-get install docker-registry)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_root.mkdir(parents=True, exist_ok=True)
        config_file = self.workdir / "config.yml"
        config = distribution_config(self.storage_root, self.port, self.blob_cache)
        config_file.write_text(yaml.safe_dump(config))
        log = open(self.workdir / "distribution.log", "ab")  # noqa: SIM115 - owned by the child
        # Its S3 driver panics with AWS_CA_BUNDLE set; drop it for every driver to be safe.
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        self.proc = subprocess.Popen(
            [binary, "serve", str(config_file)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.close()
        wait_http(f"{self.url}/v2/", proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)

    def log_text(self) -> str:
        path = self.workdir / "distribution.log"
        return path.read_text(errors="replace") if path.exists() else ""
