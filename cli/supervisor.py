"""`hth-ctl up`'s supervisor: runs `hth-ctl run X` for each component and stops them all
when one dies or on Ctrl-C/SIGTERM. Standard library only, so it stays about 12 MiB:
`cli.processes.run_platform` checks the configuration, migrates, then execs this module."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterable


def spawn(component: str, config_path: str | None) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "cli.main"]
    if config_path:
        args += ["--config", config_path]
    return subprocess.Popen([*args, "run", component])


def supervise(components: list[str], config_path: str | None) -> int:
    """Start every component; stop all when one dies or on Ctrl-C/SIGTERM; the exit code."""
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
        time.sleep(0.2)
    terminate(children.values())
    return exit_code


def terminate(children: Iterable[subprocess.Popen[bytes]]) -> None:
    procs = list(children)
    for child in procs:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in procs:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()


def command(components: list[str], config_path: str | None) -> list[str]:
    """The command line that runs this supervisor (what run_platform execs)."""
    config = ["--config", config_path] if config_path else []
    return [sys.executable, "-m", "cli.supervisor", *config, "--", *components]


def main(argv: list[str]) -> int:
    config_path = None
    if argv[:1] == ["--config"]:
        config_path, argv = argv[1], argv[2:]
    components = argv[1:] if argv[:1] == ["--"] else argv
    return supervise(components, config_path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
