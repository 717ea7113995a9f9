"""A backup taken while clients keep pushing restores to a registry that serves every
manifest it holds with all of its blobs: no torn state."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry.cluster.leases import no_lease
from registry.maintenance.backup.restore import restore_from_store
from registry.maintenance.backup.store import BackupStore
from registry.maintenance.backup.take import BackupOptions, create_backup
from testbed.processes import RegistryProcess
from tests.maintenance.backup_support import Recorder, filesystem, torn_references
from tests.maintenance.trees import Tree

pytestmark = pytest.mark.integration

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Pusher(threading.Thread):
    """Pushes images (and now and then an index over two of them) until told to stop."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.http = httpx.Client(base_url=url, timeout=30)
        self.stop = threading.Event()
        self.pushed = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.push_round(self.pushed)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.http.close()

    def blob(self, name: str, data: bytes) -> dict[str, Any]:
        digest = digest_of(data)
        response = self.http.post(f"/v2/{name}/blobs/uploads/?digest={digest}", content=data)
        assert response.status_code == 201, response.text
        return {"mediaType": "application/octet-stream", "digest": digest, "size": len(data)}

    def manifest(self, name: str, reference: str, document: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(document).encode()
        headers = {"Content-Type": document["mediaType"]}
        response = self.http.put(f"/v2/{name}/manifests/{reference}", content=body, headers=headers)
        assert response.status_code == 201, response.text
        return {"mediaType": document["mediaType"], "digest": digest_of(body), "size": len(body)}

    def image(self, name: str, reference: str) -> dict[str, Any]:
        config = self.blob(name, json.dumps({"salt": os.urandom(8).hex()}).encode())
        layers = [self.blob(name, os.urandom(4096)) for _ in range(2)]
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config}
        return self.manifest(name, reference, {**document, "layers": layers})

    def push_round(self, number: int) -> None:
        name = f"push/repo{number % 4}"
        tag = f"t{number}"
        first = self.image(name, tag)
        if number % 3 == 0:  # an index: its children are pushed first
            second = self.image(name, f"{tag}-arm")
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [first, second]}
            self.manifest(name, f"{tag}-multi", index)
        self.pushed += 1


def served_problems(url: str) -> tuple[int, list[str]]:
    """Every tag of every repository pulled through the API: manifests and their blobs.
    Returns how many manifests were pulled and what was not served."""
    problems, pulled = [], 0
    with httpx.Client(base_url=url, timeout=30) as http:
        accept = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}
        for name in http.get("/v2/_catalog", params={"n": 1000}).json()["repositories"]:
            for tag in http.get(f"/v2/{name}/tags/list").json()["tags"] or []:
                pending = [tag]
                while pending:
                    got = http.get(f"/v2/{name}/manifests/{pending.pop()}", headers=accept)
                    if got.status_code != 200:
                        problems.append(f"{name}:{tag}: {got.status_code}")
                        continue
                    pulled += 1
                    document = got.json()
                    pending += [child["digest"] for child in document.get("manifests", [])]
                    for blob in [document.get("config"), *document.get("layers", [])]:
                        if (
                            blob
                            and http.head(f"/v2/{name}/blobs/{blob['digest']}").status_code != 200
                        ):
                            problems.append(f"{name}:{tag}: blob {blob['digest']} not served")
    return pulled, problems


def test_a_backup_during_continuous_pushes_restores_without_torn_state(tmp_path: Path) -> None:
    server = RegistryProcess(tmp_path / "live").start()
    seed = Tree(server.storage_root)
    for n in range(150):  # enough metadata that reading it overlaps with the pushes
        seed.image(f"seed/repo{n}", "v1", layers=2)
    store = BackupStore(tmp_path / "backups")
    pusher = Pusher(server.url)
    restored_server = None
    try:
        pusher.start()
        while pusher.pushed < 3 and pusher.error is None and pusher.is_alive():
            threading.Event().wait(0.05)
        before = pusher.pushed
        options = BackupOptions(server.storage_root, store, keep=7)
        result = create_backup(
            filesystem(server.storage_root), options, no_lease, Recorder().progress()
        )
        during = pusher.pushed - before
        pusher.stop.set()
        pusher.join(60)
        assert pusher.error is None, pusher.error
        assert during > 0, "no push completed while the backup ran"
        restored = tmp_path / "restored" / "storage"
        restored.parent.mkdir()
        restore_from_store(store, result.backup_id, restored, no_lease, Recorder().progress())
        assert torn_references(restored) == []
        config = {"docker_registry": {"storage_settings": {"rootdirectory": str(restored)}}}
        restored_server = RegistryProcess(tmp_path / "restored-server", config).start()
        pulled, problems = served_problems(restored_server.url)
        assert problems == [] and pulled > 150 + before
    finally:
        pusher.stop.set()
        server.stop()
        if restored_server is not None:
            restored_server.stop()
