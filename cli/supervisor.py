"""The platform's process supervisor, standard library only so it stays about 12 MiB.

`hth-ctl up` (cli.processes.run_platform) checks the configuration, migrates, binds the
registry's listening socket, then execs this module; so does `hth-ctl run registry` with more
than one HTTP worker (its only children are then the HTTP workers). It starts:

- the registry's HTTP worker processes (`python -m cli.http_worker FD`), which share the
  listening socket FD it inherited; one that dies is started again in its slot, as uvicorn's
  own supervisor did, so a crashed worker costs its requests, not the server (under `up`,
  the first slot's worker also runs the beat: cli/http_worker.py);
- `hth-ctl run X` for each other component; when one of them dies, everything stops.

Ctrl-C or SIGTERM stops everything (SIGTERM to each child, SIGKILL after 15 s).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable

# A worker that died is started again no sooner than this after its previous start: one that
# cannot start (say, the database is unreachable) is retried, not spun.
RESTART_DELAY = 1.0
STOP_GRACE = 15.0
# Read by cli/http_worker.py: which slot a worker fills; whether the first runs the beat.
WORKER_INDEX_ENV = "HTH_HTTP_WORKER_INDEX"
EMBEDDED_BEAT_ENV = "HTH_EMBEDDED_BEAT"


class HttpWorkerPool:
    """The registry's HTTP worker processes on one inherited listening socket, by slot (a
    plain class: `dataclasses` alone would add a megabyte to this process)."""

    def __init__(self, count: int, fd: int, env: dict[str, str]) -> None:
        self.count, self.fd, self.env = count, fd, env
        self.slots: dict[int, subprocess.Popen[bytes]] = {}
        self._last_start = 0.0

    @property
    def running(self) -> list[subprocess.Popen[bytes]]:
        return list(self.slots.values())

    def spawn(self, slot: int) -> None:
        """Start the worker of `slot` (0 to count-1; $HTH_HTTP_WORKER_INDEX tells it which)."""
        self._last_start = time.monotonic()
        self.slots[slot] = subprocess.Popen(
            [sys.executable, "-m", "cli.http_worker", str(self.fd)],
            pass_fds=(self.fd,),
            env={**os.environ, **self.env, WORKER_INDEX_ENV: str(slot)},
        )

    def keep_up(self) -> None:
        """Forget the workers that died (saying so) and start replacements, one per delay."""
        for slot, worker in list(self.slots.items()):
            code = worker.poll()
            if code is not None:
                del self.slots[slot]
                print(f"hth-ctl: HTTP worker {worker.pid} exited with code {code}", file=sys.stderr)
        missing = [slot for slot in range(self.count) if slot not in self.slots]
        if missing and time.monotonic() - self._last_start >= RESTART_DELAY:
            self.spawn(missing[0])


def spawn(component: str, config_path: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "cli.main"]
    if config_path:
        args += ["--config", config_path]
    return subprocess.Popen([*args, "run", component])


def supervise(components: list[str], config_path: str | None, http: HttpWorkerPool | None) -> int:
    """Start everything; stop all when a component dies or on Ctrl-C/SIGTERM; the exit code."""
    if http is not None:
        for slot in range(http.count):
            http.spawn(slot)
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
    """Parses what `command` wrote (by hand: `argparse` is not needed for that)."""
    config_path, http_env, options = None, {}, {"--http-workers": "0", "--listen-fd": "-1"}
    while argv and argv[0] != "--":
        flag, value, argv = argv[0], argv[1], argv[2:]
        if flag == "--config":
            config_path = value
        elif flag == "--http-env":
            key, _, item = value.partition("=")
            http_env[key] = item
        elif flag in options:
            options[flag] = value
        else:
            raise SystemExit(f"cli.supervisor: unknown option {flag}")
    components = argv[1:]
    count = int(options["--http-workers"])
    http = HttpWorkerPool(count, int(options["--listen-fd"]), http_env) if count else None
    return supervise(components, config_path, http)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
