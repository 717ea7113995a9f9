"""A single-node OpenStack Swift (Debian's packages) with tempauth and memcached, for tests.

Everything lives in one temp dir and on free ports; nothing under /etc/swift is read or written.
"""

from __future__ import annotations

import getpass
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from testbed.processes import free_port

SWIFT_USER = "test:tester"
SWIFT_KEY = "testing"
# The proxy pipeline: bulk (bulk delete), tempurl, tempauth, server-side copy, SLO and DLO.
PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl "
    "tempauth copy slo dlo proxy-logging proxy-server"
)
# Run a Swift WSGI server from Debian's python3 with swift.conf taken from our own directory.
_LAUNCHER = (
    "import sys\n"
    "from swift.common import utils\n"
    "utils.SWIFT_CONF_FILE = sys.argv[1]\n"
    "from swift.common.wsgi import run_wsgi\n"
    "sys.exit(run_wsgi(sys.argv[2], sys.argv[3]))\n"
)
_RING_BUILDER = (
    "import ast, sys\n"
    "from swift.common.ring import RingBuilder\n"
    "for server, port in ast.literal_eval(sys.argv[1]).items():\n"
    "    builder = RingBuilder(4, 1, 1)\n"
    "    builder.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port,\n"
    "                     'device': 'd1', 'weight': 100})\n"
    "    builder.rebalance()\n"
    "    builder.save(f'{server}.builder')\n"
    "    builder.get_ring().save(f'{server}.ring.gz')\n"
)
_SERVERS = ("account", "container", "object")
_SYSTEM_PYTHON = "/usr/bin/python3"
# Debian's eatmydata turns fsync into a no-op: test data need no durability, and Swift
# fsyncs every object and listing update (this halves the time of each request).
_EATMYDATA = next(iter(glob.glob("/usr/lib/*/libeatmydata.so")), "")


def _swift_python() -> str:
    """Debian's python3, which has the `swift` package (the venv's python does not)."""
    return _SYSTEM_PYTHON if os.path.exists(_SYSTEM_PYTHON) else sys.executable


@dataclass
class SwiftNode:
    """Proxy + account/container/object servers + memcached; `start()` waits until auth works."""

    base: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy']}"

    @property
    def auth_url(self) -> str:
        return f"{self.proxy_url}/auth/v1.0"

    def start(self, timeout: float = 180.0) -> SwiftNode:
        missing = [tool for tool in ("swift-proxy-server", "memcached") if not shutil.which(tool)]
        if missing:
            raise RuntimeError(
                f"Swift is not installed ({', '.join(missing)}): run scripts/test.sh"
            )
        self.base.mkdir(parents=True, exist_ok=True)
        for name in ("memcached", "proxy", *_SERVERS):
            self.ports[name] = free_port()
        self._write_configs()
        self._build_rings()
        self._spawn("memcached", self._memcached_command())
        for server in _SERVERS:
            self._spawn_wsgi(server, f"{server}-server")
        self._spawn_wsgi("proxy", "proxy-server")
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)  # a frozen process cannot act on SIGTERM
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def settings(self, container: str, **extra: Any) -> dict[str, Any]:
        """Driver settings (hth.json keys) for `container` on this node."""
        base = {"authurl": self.auth_url, "username": SWIFT_USER, "password": SWIFT_KEY}
        return {**base, "container": container, "region": "", **extra}

    @staticmethod
    def new_container() -> str:
        return f"hth-{uuid.uuid4().hex[:10]}"

    def session(self) -> tuple[str, dict[str, str]]:
        """(storage URL, auth headers) of the test account, to look behind the driver's back."""
        auth = httpx.get(
            self.auth_url, headers={"X-Auth-User": SWIFT_USER, "X-Auth-Key": SWIFT_KEY}
        )
        auth.raise_for_status()
        return auth.headers["X-Storage-Url"], {"X-Auth-Token": auth.headers["X-Auth-Token"]}

    def objects(self, container: str) -> list[str]:
        """Every object in `container` (manifests and segments alike); [] if it does not exist."""
        url, token = self.session()
        reply = httpx.get(f"{url}/{container}", params={"format": "json"}, headers=token)
        if reply.status_code == 404:
            return []
        reply.raise_for_status()
        return [entry["name"] for entry in reply.json()]

    def stop_proxy(self) -> None:
        """Take the proxy (the cluster's front door) down: a real outage."""
        proc = self.procs.pop("proxy")
        proc.terminate()
        proc.wait(10)

    def start_proxy(self) -> None:
        self._spawn_wsgi("proxy", "proxy-server")
        self._wait_ready(30.0)

    def freeze_proxy(self) -> None:
        """Stop the proxy without closing its port: connections open, nothing answers."""
        os.kill(self.procs["proxy"].pid, signal.SIGSTOP)

    def thaw_proxy(self) -> None:
        os.kill(self.procs["proxy"].pid, signal.SIGCONT)

    def log_text(self) -> str:
        return "\n".join(
            f"== {log.name}\n{log.read_text(errors='replace')}"
            for log in sorted(self.base.glob("*.log"))
        )

    def _write_configs(self) -> None:
        user = getpass.getuser()
        (self.base / "swift.conf").write_text(
            "[swift-hash]\nswift_hash_path_suffix = hth-test\nswift_hash_path_prefix = hth\n\n"
            "[storage-policy:0]\nname = gold\ndefault = yes\n"
        )
        common = (
            f"[DEFAULT]\nbind_ip = 127.0.0.1\nworkers = 0\nuser = {user}\n"
            f"swift_dir = {self.base}\ndevices = {self.base / 'node'}\nmount_check = false\n"
            "disable_fallocate = true\nlog_level = WARNING\n"
        )
        (self.base / "node" / "d1").mkdir(parents=True, exist_ok=True)
        for server in _SERVERS:
            (self.base / f"{server}-server.conf").write_text(
                f"{common}bind_port = {self.ports[server]}\n\n"
                f"[pipeline:main]\npipeline = {server}-server\n\n"
                f"[app:{server}-server]\nuse = egg:swift#{server}\n"
            )
        (self.base / "proxy-server.conf").write_text(self._proxy_config(common))

    def _proxy_config(self, common: str) -> str:
        filters = {
            "catch_errors": "",
            "gatekeeper": "",
            "healthcheck": "",
            "proxy-logging": "",
            "cache": f"memcache_servers = 127.0.0.1:{self.ports['memcached']}\n",
            "listing_formats": "",
            "bulk": "",
            "tempurl": "",
            "tempauth": "user_test_tester = testing .admin\nuser_test_other = secret .admin\n",
            "copy": "",
            "slo": "",
            "dlo": "",
        }
        eggs = {"cache": "memcache"}
        sections = [
            f"{common}bind_port = {self.ports['proxy']}\n",
            f"[pipeline:main]\npipeline = {PIPELINE}\n",
            "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n",
        ]
        for name, extra in filters.items():
            egg = eggs.get(name, name.replace("-", "_"))
            sections.append(f"[filter:{name}]\nuse = egg:swift#{egg}\n{extra}")
        return "\n".join(sections)

    def _build_rings(self) -> None:
        """One ring per server (2**4 partitions, 1 replica, 1 device): what
        `swift-ring-builder X.builder create 4 1 1; add ...; rebalance` does, in one process."""
        devices = {server: self.ports[server] for server in _SERVERS}
        result = subprocess.run(
            [_swift_python(), "-c", _RING_BUILDER, repr(devices)],
            cwd=self.base,
            capture_output=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"building the swift rings failed: {result.stderr!r}")

    def _memcached_command(self) -> list[str]:
        command = ["memcached", "-l", "127.0.0.1", "-p", str(self.ports["memcached"]), "-U", "0"]
        if os.geteuid() == 0:
            command += ["-u", "memcache"]  # memcached refuses to run as root
        return command

    def _spawn_wsgi(self, name: str, app: str) -> None:
        conf = str(self.base / f"{app}.conf")
        swift_conf = str(self.base / "swift.conf")
        self._spawn(name, [_swift_python(), "-c", _LAUNCHER, swift_conf, conf, app])

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        env = dict(os.environ)
        if _EATMYDATA:
            env["LD_PRELOAD"] = _EATMYDATA
        self.procs[name] = subprocess.Popen(
            command,
            cwd=self.base,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        log.close()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"swift {name} exited early:\n{self.log_text()}")
            try:
                if self._probe():
                    return
                last_error = "probe container not created"
            except httpx.HTTPError as exc:
                last_error = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(f"swift node not ready in {timeout}s ({last_error}):\n{self.log_text()}")

    def _probe(self) -> bool:
        """Auth works and a container can be created and listed: the rings are live."""
        with httpx.Client(timeout=5.0) as http:
            auth = http.get(
                self.auth_url, headers={"X-Auth-User": SWIFT_USER, "X-Auth-Key": SWIFT_KEY}
            )
            if auth.status_code != 200:
                return False
            storage_url = auth.headers["X-Storage-Url"]
            token = {"X-Auth-Token": auth.headers["X-Auth-Token"]}
            created = http.put(f"{storage_url}/probe", headers=token)
            listed = http.get(f"{storage_url}/probe", headers=token)
            return created.status_code in (201, 202) and listed.status_code in (200, 204)


@pytest.fixture(scope="session")
def swift_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftNode]:
    """One Swift node for the whole session; tests isolate themselves by container."""
    node = SwiftNode(tmp_path_factory.mktemp("swift")).start()
    try:
        yield node
    finally:
        node.stop()


def conformance_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for the shared driver conformance suite: a fresh container, 4 MiB segments."""
    node: SwiftNode = request.getfixturevalue("swift_node")
    return node.settings(node.new_container(), chunksize=4 * 1024 * 1024)


def leftovers(settings: dict[str, Any]) -> list[str]:
    """Every object in the settings' container, segments included."""
    auth = httpx.get(
        settings["authurl"],
        headers={"X-Auth-User": settings["username"], "X-Auth-Key": settings["password"]},
    )
    auth.raise_for_status()
    url = f"{auth.headers['X-Storage-Url']}/{settings['container']}"
    reply = httpx.get(
        url, params={"format": "json"}, headers={"X-Auth-Token": auth.headers["X-Auth-Token"]}
    )
    return [] if reply.status_code == 404 else [entry["name"] for entry in reply.json()]
