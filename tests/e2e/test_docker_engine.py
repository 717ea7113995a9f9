"""The Docker engine (Debian's docker.io, dockerd 20.10) against our registry: push and pull
of an imported image, token login with a pull-only user refused push, a platform pulled out
of a multi-arch index, `docker manifest inspect`, and pulls during a real GC task."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from registry import layout
from testbed.task_platform import RedisNamespace, TaskPlatform, wait_until
from tests.support.auth import AuthRegistry
from tests.support.clients import ClientError, Skopeo
from tests.support.docker_engine import DockerEngine, EngineUnavailable, rootfs_tar, saved_files
from tests.support.images import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    MultiArchImage,
    OciLayout,
    sha256_digest,
)

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
ARM64 = {"os": "linux", "architecture": "arm64"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    """The registry without auth, with a worker for the GC task."""
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("docker-e2e"),
        config={
            "queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix},
            "docker_registry": {"http": {"workers": 1}},
        },
    )
    try:
        platform.start("registry", "worker")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    server = AuthRegistry.start(tmp_path_factory.mktemp("docker-auth"))
    server.create_user("pusher", {"e2e": ["pull", "push"]})
    server.create_user("puller", {"e2e": ["pull"]})
    yield server
    server.stop()


def host_of(platform: TaskPlatform) -> str:
    return platform.url.removeprefix("http://")


def registry_manifest(platform: TaskPlatform, name: str, reference: str) -> tuple[bytes, str]:
    """The manifest the registry serves for name:reference and its digest (checked against
    the body it sends)."""
    accept = ", ".join([DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX])
    response = platform.api().get(f"/v2/{name}/manifests/{reference}", headers={"Accept": accept})
    assert response.status_code == 200, response.text
    digest = response.headers["docker-content-digest"]
    assert digest == sha256_digest(response.content)
    return response.content, digest


def import_image(docker: DockerEngine, ref: str, files: dict[str, bytes]) -> str:
    """`docker import` a rootfs of these files as `ref`; the image id."""
    docker.run("import", "-", ref, stdin=rootfs_tar(files))
    image_id: str = docker.inspect(ref)["Id"]
    return image_id


def test_docker_push_then_pull_after_rmi_gives_the_same_image_and_files(
    docker: DockerEngine, platform: TaskPlatform
) -> None:
    files = {"etc/greeting.txt": b"hello from docker import\n", "data/blob.bin": os.urandom(4096)}
    ref = f"{host_of(platform)}/e2e/imported:1"
    image_id = import_image(docker, ref, files)

    docker.run("push", ref)
    digest = registry_manifest(platform, "e2e/imported", "1")[1]
    assert docker.inspect(ref)["RepoDigests"] == [f"{host_of(platform)}/e2e/imported@{digest}"]
    docker.run("rmi", ref)
    with pytest.raises(ClientError, match="No such image"):
        docker.inspect(ref)
    docker.run("pull", ref)

    pulled = docker.inspect(ref)
    assert pulled["Id"] == image_id  # the config digest: docker checked every layer's diff_id
    assert pulled["RepoDigests"] == [f"{host_of(platform)}/e2e/imported@{digest}"]
    assert saved_files(docker.run("save", ref).stdout) == files


def test_docker_login_with_token_auth_pushes_and_a_pull_only_user_is_denied_push(
    docker: DockerEngine, auth_registry: AuthRegistry, tmp_path: Path
) -> None:
    host = auth_registry.server.host
    pusher, puller = tmp_path / "pusher-config", tmp_path / "puller-config"
    for user, config in (("pusher", pusher), ("puller", puller)):
        password = auth_registry.passwords[user].encode()
        login = docker.run("login", "-u", user, "--password-stdin", host, config=config,
                           stdin=password)  # fmt: skip
        assert b"Login Succeeded" in login.stdout
    ref = f"{host}/e2e/auth:1"
    image_id = import_image(docker, ref, {"hello.txt": b"hello with token auth\n"})

    docker.run("push", ref, config=pusher)
    docker.run("rmi", ref)
    docker.run("pull", ref, config=puller)
    assert docker.inspect(ref)["Id"] == image_id
    docker.run("tag", ref, f"{host}/e2e/refused:1")
    with pytest.raises(ClientError, match="denied: requested access to the resource is denied"):
        docker.run("push", f"{host}/e2e/refused:1", config=puller)
    with pytest.raises(ClientError, match="pull access denied|unauthorized"):
        docker.run("pull", ref, config=tmp_path / "anonymous-config")


@dataclass(frozen=True)
class PushedIndex:
    """Two tiny images (amd64, arm64) pushed by skopeo as the OCI index `oci_ref` and,
    converted, as the Docker manifest list `docker_ref`."""

    repository: str
    multi: MultiArchImage

    @property
    def oci_ref(self) -> str:
        return f"{self.repository}:oci"

    @property
    def docker_ref(self) -> str:
        return f"{self.repository}:docker"


@pytest.fixture(scope="module")
def multi_arch(platform: TaskPlatform, tmp_path_factory: pytest.TempPathFactory) -> PushedIndex:
    workdir = tmp_path_factory.mktemp("docker-multi")
    oci = OciLayout(workdir / "layout")
    multi = oci.write_index("multi", [("linux", "amd64"), ("linux", "arm64")], [2_000], seed=22)
    pushed = PushedIndex(f"{host_of(platform)}/e2e/multi", multi)
    skopeo = Skopeo(workdir / "skopeo")
    source = f"oci:{oci.path}:multi"
    skopeo.copy(source, f"docker://{pushed.oci_ref}", "--all")
    skopeo.copy(source, f"docker://{pushed.docker_ref}", "--all", "--format", "v2s2")
    return pushed


def test_docker_pull_platform_arm64_takes_that_image_of_the_oci_index(
    docker: DockerEngine, multi_arch: PushedIndex
) -> None:
    arm64 = next(i for i in multi_arch.multi.images if i.manifest.platform == ARM64)

    docker.run("pull", "--platform", "linux/arm64", multi_arch.oci_ref)

    pulled = docker.inspect(multi_arch.oci_ref)
    assert (pulled["Os"], pulled["Architecture"]) == ("linux", "arm64")
    assert pulled["Id"] == arm64.config.digest
    assert pulled["RepoDigests"] == [f"{multi_arch.repository}@{multi_arch.multi.index.digest}"]


def test_docker_manifest_inspect_shows_the_list_and_a_platform_manifest_as_served(
    docker: DockerEngine, platform: TaskPlatform, multi_arch: PushedIndex
) -> None:
    """Docker-format list only: the 20.10 CLI asks for no OCI media type, so it cannot show
    an OCI index's children (Distribution answers it the same 404 MANIFEST_UNKNOWN)."""
    served_list, _ = registry_manifest(platform, "e2e/multi", "docker")

    inspect = ["manifest", "inspect", "--insecure"]
    shown = json.loads(docker.run(*inspect, multi_arch.docker_ref).stdout)

    assert shown == json.loads(served_list)
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]) for m in shown["manifests"]}
    assert platforms == {("linux", "amd64"), ("linux", "arm64")}
    arm64 = next(m["digest"] for m in shown["manifests"] if m["platform"] == ARM64)
    shown_child = json.loads(docker.run(*inspect, f"{multi_arch.repository}@{arm64}").stdout)
    assert shown_child == json.loads(registry_manifest(platform, "e2e/multi", arm64)[0])
    assert shown_child["mediaType"] == DOCKER_MANIFEST


class PullLoop(threading.Thread):
    """Pulls `ref` again and again (rmi first) until stopped; records each pull's time span,
    and stops at the first failure or image id other than `image_id`."""

    def __init__(self, docker: DockerEngine, ref: str, image_id: str) -> None:
        super().__init__(daemon=True)
        self.docker, self.ref, self.image_id = docker, ref, image_id
        self.spans: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.docker.run("rmi", self.ref)
                started = time.time()
                self.docker.run("pull", self.ref)
                pulled_id = self.docker.inspect(self.ref)["Id"]
            except ClientError as exc:
                self.errors.append(str(exc))
                return
            self.spans.append((started, time.time()))
            if pulled_id != self.image_id:
                self.errors.append(f"pulled {pulled_id}, pushed {self.image_id}")
                return


def plant_garbage(storage: Path, count: int) -> set[str]:
    """Blobs no manifest references, for the GC to delete (grace 0: however new)."""
    digests = set()
    for _ in range(count):
        data = os.urandom(64)
        digest = sha256_digest(data)
        path = storage / layout.blob_data(digest).lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digests.add(digest)
    return digests


def test_docker_pulls_while_a_gc_runs_all_succeed_with_intact_content(
    docker: DockerEngine, platform: TaskPlatform
) -> None:
    files = {"data/big.bin": random.Random(7).randbytes(3 * MiB), "etc/name": b"big\n"}
    ref = f"{host_of(platform)}/e2e/big:1"
    image_id = import_image(docker, ref, files)
    docker.run("push", ref)
    storage = Path(platform.full_config()["docker_registry"]["storage_settings"]["rootdirectory"])
    garbage = plant_garbage(storage, 600)  # a GC longer than the gap between two pulls
    puller = PullLoop(docker, ref, image_id)
    puller.start()
    try:
        wait_until(lambda: puller.spans or puller.errors, 60, "a first pull")
        task = platform.enqueue("gc", grace_period="0s")
        done = platform.wait_finished(task["id"], timeout=120)
        # The pull in flight when the GC ended, then one started after it.
        pulls_before_end = len(puller.spans)
        wait_until(lambda: len(puller.spans) > pulls_before_end + 1 or puller.errors, 60, "pulls")
    finally:
        puller.stopping.set()
        puller.join(60)

    assert puller.errors == []
    assert done["state"] == "succeeded", platform.logs()
    assert done["result"]["blobs_deleted"] >= len(garbage)
    gc_span = [datetime.fromisoformat(done[k]).timestamp() for k in ("started_at", "finished_at")]
    overlapping = [s for s in puller.spans if s[0] < gc_span[1] and s[1] > gc_span[0]]
    assert overlapping, f"no pull ran during the GC {gc_span}: {puller.spans}"
    assert saved_files(docker.run("save", ref).stdout) == files


def test_a_dockerd_that_exits_at_start_is_reported_with_its_last_log_lines(
    tmp_path: Path,
) -> None:
    """What the session fixture puts in its skip reason where dockerd cannot run."""
    fake = tmp_path / "dockerd"
    fake.write_text("#!/bin/sh\necho 'failed to start daemon: no cgroups here'\nexit 1\n")
    fake.chmod(0o755)

    with pytest.raises(EngineUnavailable, match=r"exited with 1(.|\n)*no cgroups here"):
        DockerEngine.start_private(dockerd=str(fake), cli="/bin/false")
