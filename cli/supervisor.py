"""The platform's process supervisor, standard library only so it stays about 12 MiB.

`hth-ctl up` (cli.processes.run_platform) checks the configuration, migrates, binds the
registry's listening socket, then execs this module; so does `hth-ctl run registry` with more
than one HTTP worker (its only children are then the HTTP workers). It starts:

- the registry's HTTP worker processes (`python -m api.http_worker FD`), which share the
  listening socket FD it inherited; one that dies is started again, as uvicorn's own
  supervisor did, so a crashed worker costs its requests, not the server;
- `hth-ctl run X` for each other component; when one of them dies, everything stops.

Ctrl-C or SIGTERM stops everything (SIGTERM to each child, SIGKILL after 15 s).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

# A worker that died is started again no sooner than this after its previous start: one that
# cannot start (say, the database is unreachable) is retried, not spun.
RESTART_DELAY = 1.0
STOP_GRACE = 15.0


@dataclass
class HttpWorkerPool:
    """The registry's HTTP worker processes on one inherited listening socket."""

    count: int
    fd: int
    env: dict[str, str]
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _last_start: float = 0.0

    def spawn(self) -> None:
        self._last_start = time.monotonic()
        self.running.append(
            subprocess.Popen(
                [sys.executable, "-m", "api.http_worker", str(self.fd)],
                pass_fds=(self.fd,),
                env={**os.environ, **self.env},
            )
        )

    def keep_up(self) -> None:
        """Forget the workers that died (saying so) and start replacements, one per delay."""
        for worker in list(self.running):
            code = worker.poll()
            if code is not None:
                self.running.remove(worker)
                print(f"hth-ctl: HTTP worker {worker.pid} exited with code {code}", file=sys.stderr)
        if len(self.running) < self.count and time.monotonic() - self._last_start >= RESTART_DELAY:
            self.spawn()


def spawn(component: str, config_path: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "cli.main"]
    if config_path:
        args += ["--config", config_path]
    return subprocess.Popen([*args, "run", component])


def supervise(components: list[str], config_path: str | None, http: HttpWorkerPool | None) -> int:
    """Start everything; stop all when a component dies or on Ctrl-C/SIGTERM; the exit code."""
    if http is not None:
        for _ in range(http.count):
            http.spawn()
    children = {name: spawn(name, config_path) for name in components}
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                print(f"hth-ctl: {name} exited with code {code}; stopping", file=sys.stderr)
                exit_code, stopping = code or 1, True
        if http is not None and not stopping:
            http.keep_up()
        time.sleep(0.2)
    terminate([*children.values(), *(http.running if http else [])])
    return exit_code


def terminate(children: Iterable[subprocess.Popen[bytes]]) -> None:
    procs = list(children)
    for child in procs:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for child in procs:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def command(
    components: list[str],
    config_path: str | None,
    http: tuple[int, int, dict[str, str]] | None = None,
) -> list[str]:
    """The command line that runs this supervisor; `http`: (count, listening fd, environment)
    of the registry's HTTP workers, if it starts them."""
    args = [sys.executable, "-m", "cli.supervisor"]
    if config_path:
        args += ["--config", config_path]
    if http is not None:
        count, fd, env = http
        args += ["--http-workers", str(count), "--listen-fd", str(fd)]
        args += [item for key, value in env.items() for item in ("--http-env", f"{key}={value}")]
    return [*args, "--", *components]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cli.supervisor")
    parser.add_argument("--config")
    parser.add_argument("--http-workers", type=int, default=0)
    parser.add_argument("--listen-fd", type=int)
    parser.add_argument("--http-env", action="append", default=[])
    parser.add_argument("components", nargs="*")
    args = parser.parse_args(argv)
    http = None
    if args.http_workers:
        env = dict(item.split("=", 1) for item in args.http_env)
        http = HttpWorkerPool(args.http_workers, args.listen_fd, env)
    return supervise(args.components, args.config, http)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
