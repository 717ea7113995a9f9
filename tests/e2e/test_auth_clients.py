"""skopeo and podman log in to our registry with token auth, push and pull; a pull-only
user is refused push; a revoked token stops working at once."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import SourceImages
from tests.support.auth import ADMIN, AuthRegistry
from tests.support.clients import ClientError, Skopeo, run_client
from tests.support.images import read_dir_copy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    server = AuthRegistry.start(tmp_path_factory.mktemp("auth-e2e"))
    server.create_user("pusher", {"e2e": ["pull", "push"]})
    server.create_user("puller", {"e2e": ["pull"]})
    yield server
    server.stop()


def creds(registry: AuthRegistry, username: str) -> str:
    return f"{username}:{registry.passwords.get(username, ADMIN[1])}"


def test_skopeo_pushes_and_pulls_with_token_auth(
    registry: AuthRegistry, skopeo: Skopeo, source_images: SourceImages, tmp_path: Path
) -> None:
    ref = f"docker://{registry.server.host}/e2e/skopeo:1"

    skopeo.copy(source_images.ref("single"), ref, "--dest-creds", creds(registry, "pusher"))
    skopeo.copy(ref, f"dir:{tmp_path / 'pulled'}", "--src-creds", creds(registry, "puller"))

    pulled = read_dir_copy(tmp_path / "pulled")
    assert pulled.digest == source_images.single.manifest.digest
    with pytest.raises(ClientError, match="unauthorized|authentication required"):
        skopeo.copy(ref, f"dir:{tmp_path / 'anonymous'}")


def test_skopeo_pull_only_user_is_refused_push(
    registry: AuthRegistry, skopeo: Skopeo, source_images: SourceImages
) -> None:
    ref = f"docker://{registry.server.host}/e2e/refused:1"

    with pytest.raises(ClientError, match="denied"):
        skopeo.copy(source_images.ref("single"), ref, "--dest-creds", creds(registry, "puller"))


def test_skopeo_with_a_revoked_token_is_refused_at_once(
    registry: AuthRegistry, skopeo: Skopeo, source_images: SourceImages, tmp_path: Path
) -> None:
    token = registry.create_token("pusher", "skopeo")
    ref = f"docker://{registry.server.host}/e2e/revoked:1"
    skopeo.copy(source_images.ref("single"), ref, "--dest-creds", f"pusher:{token['token']}")

    registry.revoke(token["id"])

    with pytest.raises(ClientError, match="unauthorized|invalid username/password"):
        skopeo.copy(ref, f"dir:{tmp_path / 'pulled'}", "--src-creds", f"pusher:{token['token']}")


@dataclass
class Podman:
    """podman with private vfs storage and its own auth file (flags this machine needs)."""

    workdir: Path
    runroot: Path  # podman refuses a runroot path longer than 50 characters

    def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        base = [
            "podman", "--root", str(self.workdir / "root"), "--runroot", str(self.runroot),
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
            "--runtime", "runc",
        ]  # fmt: skip
        return run_client([*base, *args])

    def auth(self) -> list[str]:
        return ["--authfile", str(self.workdir / "auth.json"), "--tls-verify=false"]


@pytest.fixture()
def podman(tmp_path: Path) -> Iterator[Podman]:
    client = Podman(tmp_path / "podman", Path(tempfile.mkdtemp(prefix="hth-podman-")))
    yield client
    try:
        client.run("rmi", "--all", "--force")
    except ClientError:
        pass
    shutil.rmtree(client.runroot, ignore_errors=True)


def test_podman_logs_in_pulls_and_pushes_with_token_auth(
    registry: AuthRegistry, podman: Podman, skopeo: Skopeo, source_images: SourceImages
) -> None:
    host = registry.server.host
    skopeo.copy(source_images.ref("single"), f"docker://{host}/e2e/podman:1", "--dest-creds",
                creds(registry, "pusher"))  # fmt: skip

    podman.run("login", *podman.auth(), "-u", "pusher", "-p", registry.passwords["pusher"], host)
    podman.run("pull", *podman.auth(), f"{host}/e2e/podman:1")
    podman.run("tag", f"{host}/e2e/podman:1", f"{host}/e2e/podman-copy:2")
    podman.run("push", *podman.auth(), f"{host}/e2e/podman-copy:2")

    listed = run_client([
        "skopeo", "list-tags", "--tls-verify=false", "--creds", creds(registry, "puller"),
        f"docker://{host}/e2e/podman-copy",
    ])  # fmt: skip
    assert json.loads(listed.stdout)["Tags"] == ["2"]


def test_podman_login_with_a_wrong_password_fails(registry: AuthRegistry, podman: Podman) -> None:
    with pytest.raises(ClientError, match="invalid username/password"):
        podman.run("login", *podman.auth(), "-u", "pusher", "-p", "wrong-password-x",
                   registry.server.host)  # fmt: skip
