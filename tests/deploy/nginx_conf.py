"""deploy/nginx/nginx.conf made runnable on loopback: the same file with its upstream
servers, certificate paths, listen ports and temp/pid paths pointed at a test's own."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from testbed.processes import REPO_ROOT, free_port, stop_process

TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "nginx.conf"


def render(
    workdir: Path, upstreams: list[int], cert: Path, key: Path, port: int, flower_port: int
) -> str:
    text = TEMPLATE.read_text()
    servers = "".join(
        f"        server 127.0.0.1:{p} max_fails=2 fail_timeout=10s;\n" for p in upstreams
    )
    text, count = re.subn(r"(        server registry\d:5000 [^\n]*\n)+", servers, text)
    assert count == 1, "the upstream block of nginx.conf changed shape"
    replacements = {
        "/etc/nginx/tls/tls.crt": str(cert),
        "/etc/nginx/tls/tls.key": str(key),
        "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
        "listen 5556 ssl;": f"listen 127.0.0.1:{flower_port} ssl;",
        "/tmp/nginx": f"{workdir}/nginx",
        "/dev/stdout": str(workdir / "access.log"),
        "/dev/stderr": str(workdir / "error.log"),
    }
    for old, new in replacements.items():
        assert old in text, f"{old!r} no longer in nginx.conf"
        text = text.replace(old, new)
    return text


def self_signed(workdir: Path) -> tuple[Path, Path]:
    cert, key = workdir / "tls.crt", workdir / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Nginx:
    workdir: Path
    upstreams: list[int]
    port: int = field(default_factory=free_port)
    # The address nginx connects to the registries from (`proxy_bind`), e.g. 127.0.0.7, so
    # that the registries can tell nginx from a client on loopback.
    source: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.workdir / "nginx.conf"

    def write(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cert, key = self_signed(self.workdir)
        self.cert = cert
        text = render(self.workdir, self.upstreams, cert, key, self.port, free_port())
        if self.source:
            upstream = "proxy_pass http://hth_registry;"
            assert upstream in text, "the registry location of nginx.conf changed shape"
            text = text.replace(upstream, f"{upstream}\n            proxy_bind {self.source};")
        self.conf.write_text(text)
        return self.conf

    def test_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [nginx_binary(), "-t", "-p", str(self.workdir), "-c", str(self.conf)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    def start(self) -> Nginx:
        self.write()
        args = [nginx_binary(), "-p", str(self.workdir), "-c", str(self.conf)]
        self.proc = subprocess.Popen(
            [*args, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return self

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)
