"""A private Docker engine for tests: dockerd on vfs with its own data-root, exec-root and
socket under a temporary directory, and a `docker` CLI wrapper that talks only to it."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.clients import CLIENT_TIMEOUT, ClientError

START_TIMEOUT = 60.0


class EngineUnavailable(RuntimeError):
    """dockerd is not installed here, or it exited (or never answered) when started."""


def find_dockerd() -> str | None:
    # Debian puts dockerd in /usr/sbin, which a non-root PATH often lacks.
    found = shutil.which("dockerd")
    if found is None and Path("/usr/sbin/dockerd").exists():
        found = "/usr/sbin/dockerd"
    return found


def find_docker_cli() -> str | None:
    # The CLI of the Debian engine we start, even if PATH has a different docker first
    # (a newer CLI would hide what 20.10's own client does, e.g. `manifest` being experimental).
    if Path("/usr/bin/docker").exists():
        return "/usr/bin/docker"
    return shutil.which("docker")


@dataclass
class DockerEngine:
    """dockerd started under `root` (a short path: unix socket paths are limited to 108
    bytes, and containerd nests its own sockets under exec-root)."""

    root: Path
    dockerd: str
    cli: str
    proc: subprocess.Popen[bytes] | None = None
    version: str = ""
    client_config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.client_config = self.root / "client"

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def pidfile(self) -> Path:
        return self.root / "docker.pid"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    @classmethod
    def start_private(cls, dockerd: str | None = None, cli: str | None = None) -> DockerEngine:
        """Start one (the machine's dockerd and CLI unless told which); EngineUnavailable,
        with dockerd's last log lines, if that cannot be."""
        dockerd, cli = dockerd or find_dockerd(), cli or find_docker_cli()
        if dockerd is None or cli is None:
            raise EngineUnavailable("dockerd or the docker CLI is not installed (docker.io)")
        engine = cls(Path(tempfile.mkdtemp(prefix="hth-dockerd-")), dockerd, cli)
        try:
            engine._start()
        except EngineUnavailable:
            engine.stop()
            raise
        return engine

    def _start(self) -> None:
        self.client_config.mkdir()
        # Our own daemon.json: nothing from the machine's /etc/docker/daemon.json applies.
        (self.root / "daemon.json").write_text("{}")
        args = [
            self.dockerd, "--config-file", str(self.root / "daemon.json"),
            "--iptables=false", "--ip-masq=false", "--bridge=none", "--storage-driver=vfs",
            "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
            "-H", f"unix://{self.socket}", "--pidfile", str(self.pidfile),
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EngineUnavailable(
                    f"dockerd exited with {self.proc.returncode}; its log ends:\n{self.log_tail()}"
                )
            info = self._docker(["info", "--format", "{{.ServerVersion}}"], None, 10.0)
            if info.returncode == 0:
                self.version = info.stdout.decode().strip()
                return
            time.sleep(0.2)
        raise EngineUnavailable(f"dockerd did not answer `docker info`:\n{self.log_tail()}")

    def _docker(
        self, args: list[str], config: Path | None, timeout: float, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        env = {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_CONFIG": str(config or self.client_config),
            "DOCKER_CLI_EXPERIMENTAL": "enabled",  # `docker manifest` on 20.10
        }
        return subprocess.run(
            [self.cli, *args], input=stdin, capture_output=True, env=env, timeout=timeout
        )

    def run(
        self, *args: str, config: Path | None = None, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """`docker ARGS` against this engine; ClientError with the output if it fails.
        `config` is the client's config dir (where `docker login` keeps credentials)."""
        try:
            done = self._docker(list(args), config, CLIENT_TIMEOUT, stdin)
        except subprocess.TimeoutExpired:
            raise ClientError(f"timed out: docker {' '.join(args)}") from None
        if done.returncode != 0:
            out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
            raise ClientError(f"exit {done.returncode}: docker {' '.join(args)}\n{out}\n{err}")
        return done

    def inspect(self, image: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(self.run("image", "inspect", image).stdout)
        return found[0]

    def remove_all_images(self) -> None:
        """vfs keeps a full copy of every layer: drop every image between tests."""
        ids = self.run("images", "--all", "--quiet").stdout.decode().split()
        if ids:
            self.run("rmi", "--force", *sorted(set(ids)))

    def stop(self) -> None:
        """SIGTERM the pid in the pid file (SIGKILL after 20 s), then remove the directory."""
        if self.proc is not None and self.proc.poll() is None:
            pid = int(self.pidfile.read_text()) if self.pidfile.exists() else self.proc.pid
            os.kill(pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def rootfs_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of these files (path → content), for `docker import`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def saved_files(saved: bytes) -> dict[str, bytes]:
    """Regular files of every layer in a `docker save` archive, by path (upper layers win)."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        manifest = json.loads(_member(archive, "manifest.json"))
        for layer_path in manifest[0]["Layers"]:
            with tarfile.open(fileobj=io.BytesIO(_member(archive, layer_path))) as layer:
                for member in layer.getmembers():
                    if member.isfile():
                        files[member.name.removeprefix("./")] = _member(layer, member.name)
    return files


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    handle = archive.extractfile(name)
    assert handle is not None, f"{name} is not a regular file in the archive"
    return handle.read()
