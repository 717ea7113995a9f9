"""Emulators and registry processes for bench/storage_bench.py: per driver, the emulator, our
settings, and Distribution 2.8's own `storage` section with the binary that has that driver."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from registry import layout
from registry.storage import PathNotFoundError, create_driver
from testbed.cloud_registry import CloudRegistryProcess, CloudStorage
from testbed.emulators import (
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    Azurite,
    FakeGCSServer,
    MotoS3,
    write_gcs_keyfile,
)
from testbed.oss_server import OSSServerProcess
from testbed.processes import free_port, stop_process, wait_http
from testbed.swift_node import SwiftNode

MiB = 1 << 20
REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO_ROOT / "bench" / "build_distribution.sh"
# Distribution's legacy Azure SDK sends the emulator account to this fixed address.
AZURITE_PORT = 10000


# --- Distribution's binaries ------------------------------------------------------------------


def distribution_binaries(drivers: list[str]) -> dict[str, str | None]:
    """The Distribution binary to run per driver, None (with the reason printed) if there is
    none: Debian's `docker-registry` for s3 and swift, our build for azure and gcs."""
    debian = shutil.which("docker-registry")
    built = _built_distribution() if {"azure", "gcs"} & set(drivers) else None
    found: dict[str, str | None] = {"s3": debian, "swift": debian, "azure": built, "gcs": built}
    for name in drivers:
        if name in found and found[name] is None and name in ("s3", "swift"):
            print(f"{name}: no docker-registry (apt-get install docker-registry): ours only")
    return {name: found.get(name) for name in drivers}


def _built_distribution() -> str | None:
    """Runs bench/build_distribution.sh (a no-op once built); its last stdout line is the path."""
    print("azure/gcs: Distribution 2.8.2 with those drivers from bench/build_distribution.sh")
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        why = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
        print(f"  build failed ({why[0]}): azure and gcs rows are ours only", flush=True)
        return None
    return lines[-1]


def start_distribution(
    stack: ExitStack, workdir: Path, binary: str, storage: dict[str, Any]
) -> int:
    """`<binary> serve` on `storage` (its own config keys), minus AWS_CA_BUNDLE, with which its
    S3 driver panics; returns its port once /v2/ answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            **storage,
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    (workdir / "config.yml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    with open(workdir / "distribution.log", "ab") as log:
        proc = subprocess.Popen(
            [binary, "serve", str(workdir / "config.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    stack.callback(stop_process, proc)
    wait_http(f"http://127.0.0.1:{port}/v2/", proc=proc)
    return port


def start_ours(stack: ExitStack, workdir: Path, storage: CloudStorage) -> int:
    server = CloudRegistryProcess(workdir, storage.registry_config())
    server.config["logging"] = {"level": "warning", "format": "json"}
    stack.callback(server.stop)
    server.start()
    return server.port


def blob_forgetter(driver_name: str, settings: dict[str, Any]) -> Callable[[str], None]:
    """Deletes a blob's folder through our own driver (the layout is Distribution's, so this
    works on either registry's tree), so that the next push stores it anew: Distribution skips
    the final move of a blob it already has."""
    driver = create_driver(driver_name, settings)

    def forget(digest: str) -> None:
        try:
            driver.delete(layout.blob_dir(digest))
        except PathNotFoundError:
            pass

    return forget


def azure_forgetter(azurite: Azurite, container: str) -> Callable[[str], None]:
    """Distribution 2.8's azure driver names blobs with the leading "/" of the path, which our
    driver's keys never have: delete them with the SDK."""
    from azure.storage.blob import ContainerClient

    credential = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    client = ContainerClient(azurite.service_url, container, credential=credential)

    def forget(digest: str) -> None:
        for blob in client.list_blobs(name_starts_with=layout.blob_dir(digest) + "/"):
            client.delete_blob(blob.name)

    return forget


# --- one backend per driver: the emulator, our settings, Distribution's ---------------------------


@dataclass
class Backend:
    ours: CloudStorage
    theirs: dict[str, Any] | None  # Distribution's `storage` section, None: no such driver
    theirs_forget: Callable[[str], None] | None = None  # deletes a blob from Distribution's tree


def s3_backend(stack: ExitStack, workdir: Path) -> Backend:
    moto = MotoS3(workdir / "moto").start()
    stack.callback(moto.stop)
    bucket = moto.new_bucket()
    # Both sides with Distribution's default part size (10 MiB).
    ours = moto.settings(bucket, rootdirectory="/ours", chunksize=10 * MiB)
    theirs = moto.distribution_settings(bucket, rootdirectory="/distribution")
    forget = blob_forgetter("s3", {**ours, "rootdirectory": "/distribution"})
    return Backend(CloudStorage("s3", ours, moto.endpoint), {"s3": theirs}, forget)


def swift_backend(stack: ExitStack, workdir: Path) -> Backend:
    node = SwiftNode(workdir / "swift").start()
    stack.callback(node.stop)
    ours = node.settings(node.new_container())  # default 20 MiB segments, like Distribution
    theirs_container = node.new_container()
    theirs = {
        "authurl": node.auth_url,
        "username": ours["username"],
        "password": ours["password"],
        "container": theirs_container,
    }
    forget = blob_forgetter("swift", node.settings(theirs_container))
    return Backend(CloudStorage("swift", ours, node.proxy_url), {"swift": theirs}, forget)


def azure_backend(stack: ExitStack, workdir: Path) -> Backend:
    """Azurite on port 10000, where Distribution's SDK looks for it (`realm` is ignored for the
    emulator account); Distribution 2.8's azure driver has no root directory, so it gets a
    container of its own."""
    azurite = Azurite(workdir / "azurite")
    azurite.port = AZURITE_PORT
    azurite.start()
    stack.callback(azurite.stop)
    ours = azurite.settings(azurite.new_container())
    theirs_container = azurite.new_container()
    theirs = {
        "accountname": AZURITE_ACCOUNT,
        "accountkey": AZURITE_KEY,
        "container": theirs_container,
    }
    forget = azure_forgetter(azurite, theirs_container)
    return Backend(CloudStorage("azure", ours, azurite.endpoint), {"azure": theirs}, forget)


def gcs_backend(stack: ExitStack, workdir: Path) -> Backend:
    """fake-gcs-server, both sides signing redirect URLs with one made-up key and uploading in
    16 MiB resumable-session chunks (Distribution's default is 5 MiB)."""
    server = FakeGCSServer(workdir / "fake-gcs").start()
    stack.callback(server.stop)
    keyfile = write_gcs_keyfile(workdir / "gcs-key.json")
    bucket = server.new_bucket()
    ours = server.settings(bucket, keyfile=str(keyfile), chunksize=16 * MiB, rootdirectory="/ours")
    theirs = {
        "bucket": bucket,
        "endpoint": server.endpoint,
        "keyfile": str(keyfile),
        "rootdirectory": "/distribution",
        "chunksize": 16 * MiB,
    }
    forget = blob_forgetter("gcs", {**ours, "rootdirectory": "/distribution"})
    return Backend(CloudStorage("gcs", ours, server.endpoint), {"gcs": theirs}, forget)


def oss_backend(stack: ExitStack, workdir: Path) -> Backend:
    (workdir / "oss").mkdir(parents=True, exist_ok=True)
    server = OSSServerProcess(workdir / "oss")
    stack.callback(server.stop)
    ours = server.settings(server.new_bucket())
    return Backend(CloudStorage("oss", ours, server.spec.endpoint), None)


BACKENDS: dict[str, Callable[[ExitStack, Path], Backend]] = {
    "s3": s3_backend,
    "swift": swift_backend,
    "azure": azure_backend,
    "gcs": gcs_backend,
    "oss": oss_backend,
}
