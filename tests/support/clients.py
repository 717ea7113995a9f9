"""skopeo and buildah wrappers: TLS checks off by default, timeouts, output in failures."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.images import sha256_digest

CLIENT_TIMEOUT = 300.0


class ClientError(AssertionError):
    """A client command failed; the message carries the command and everything it printed."""


def run_client(
    args: list[str], timeout: float = CLIENT_TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ClientError(f"timed out after {timeout}s: {' '.join(args)}\n{_output(exc)}") from None
    if done.returncode != 0:
        raise ClientError(f"exit {done.returncode}: {' '.join(args)}\n{_output(done)}")
    return done


def _output(done: subprocess.CompletedProcess[bytes] | subprocess.TimeoutExpired) -> str:
    out = (done.stdout or b"").decode(errors="replace")[-4000:]
    err = (done.stderr or b"").decode(errors="replace")[-4000:]
    return f"--- stdout\n{out}\n--- stderr\n{err}"


@dataclass
class Skopeo:
    """skopeo against one registry host; `cert_dir` switches TLS verification on."""

    workdir: Path
    cert_dir: Path | None = None
    timeout: float = CLIENT_TIMEOUT
    policy: Path = field(init=False)

    def __post_init__(self) -> None:
        # Our own policy file: no dependency on the machine's /etc/containers/policy.json.
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.policy = self.workdir / "policy.json"
        self.policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))

    def _tls(self, prefix: str) -> list[str]:
        if self.cert_dir is not None:
            return [f"--{prefix}cert-dir={self.cert_dir}", f"--{prefix}tls-verify=true"]
        return [f"--{prefix}tls-verify=false"]

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return run_client(["skopeo", "--policy", str(self.policy), *args], self.timeout)

    def copy(self, source: str, dest: str, *extra: str) -> None:
        """`skopeo copy`; TLS options go to whichever side is a docker:// reference."""
        tls = []
        if source.startswith("docker://"):
            tls += self._tls("src-")
        if dest.startswith("docker://"):
            tls += self._tls("dest-")
        self._run("copy", "--retry-times=0", *tls, *extra, source, dest)

    def inspect_raw(self, ref: str) -> bytes:
        return self._run("inspect", "--raw", *self._tls(""), ref).stdout

    def inspect_digest(self, ref: str) -> str:
        return sha256_digest(self.inspect_raw(ref))

    def list_tags(self, repository_ref: str) -> list[str]:
        doc = json.loads(self._run("list-tags", *self._tls(""), repository_ref).stdout)
        return list(doc["Tags"])

    def delete(self, ref: str) -> None:
        self._run("delete", *self._tls(""), ref)


@dataclass
class Buildah:
    """buildah with private storage (vfs) under `workdir`; it still writes its blob cache
    under /var/lib/containers/cache whatever --root says."""

    workdir: Path
    timeout: float = CLIENT_TIMEOUT

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        base = [
            "buildah",
            "--root", str(self.workdir / "root"),
            "--runroot", str(self.workdir / "runroot"),
            "--storage-driver", "vfs",
        ]  # fmt: skip
        return run_client([*base, *args], self.timeout)

    def from_scratch(self) -> str:
        return self._run("from", "scratch").stdout.decode().strip()

    def copy(self, container: str, source: Path, dest: str) -> None:
        self._run("copy", container, str(source), dest)

    def config(self, container: str, *options: str) -> None:
        self._run("config", *options, container)

    def commit(self, container: str, image: str, manifest_format: str = "oci") -> str:
        """Commit and return the image id."""
        done = self._run("commit", "--format", manifest_format, "--rm", container, image)
        return done.stdout.decode().strip().splitlines()[-1]

    def push(self, image: str, dest: str, digest_file: Path) -> str:
        """Push and return the manifest digest buildah reports."""
        options = ["--retry=0", "--tls-verify=false", "--digestfile", str(digest_file)]
        self._run("push", *options, image, dest)
        return digest_file.read_text().strip()

    def cleanup(self) -> None:
        """Drop every image of this private store (vfs layers are full copies)."""
        try:
            self._run("rmi", "--all", "--force")
        except ClientError:
            pass
