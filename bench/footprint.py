"""Memory footprint of the embedded platform, process by process, next to Distribution's.

Starts `hth-ctl up` (embedded default: filesystem storage, SQLite, the filesystem Celery
transport) in a temporary directory on free ports, then each component alone
(`hth-ctl run registry|worker|beat|flower`), then Distribution (`docker-registry serve`), and
prints VmRSS and PSS (/proc/PID/smaps_rollup) of every process at idle and after 1,000
manifest GETs and one GC, the totals and whether the targets are met:

    .venv/bin/python bench/footprint.py                     # this tree
    .venv/bin/python bench/footprint.py --tree ../foot-base  # another checkout (its .venv)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from footprint_support import (  # noqa: E402
    Memory,
    answers,
    free_port,
    manifest_gets,
    memory_of,
    push_small_image,
    run_gc,
    tree_memory,
    wait_until,
)

TARGETS = {"registry HTTP worker": 70.0, "up supervisor": 30.0, "platform total": 400.0}


@dataclass
class Scenario:
    """One thing started and measured: its rows at idle and after the load."""

    name: str
    idle: list[Memory] = field(default_factory=list)
    loaded: list[Memory] = field(default_factory=list)
    note: str = ""


@dataclass
class Tree:
    """The checkout under test: its interpreter and the working directory of its processes."""

    root: Path
    workdir: Path
    extra_path: str | None = None

    @property
    def python(self) -> str:
        venv = self.root / ".venv" / "bin" / "python"
        return str(venv) if venv.exists() else sys.executable

    def config(self, name: str) -> Path:
        """A fresh hth.json of the embedded default under workdir/name, on free ports."""
        folder = self.workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        document = {
            "data_dir": str(folder / "var"),
            "docker_registry": {"http": {"addr": f"127.0.0.1:{free_port()}"}},
            "queue": {"worker_metrics_port": free_port()},
            "flower": {"port": free_port()},
        }
        path = folder / "hth.json"
        path.write_text(json.dumps(document))
        return path

    @contextmanager
    def hth_ctl(self, config: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
        log = open(log_path(config, args), "ab")  # noqa: SIM115 - owned by the child
        path = os.pathsep.join(p for p in (self.extra_path, str(self.root)) if p)
        env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
        command = [self.python, "-m", "cli.main", "--config", str(config), *args]
        proc = subprocess.Popen(
            command,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        try:
            yield proc
        except Exception:
            tail = log_path(config, args).read_text(errors="replace")[-4000:]
            print(f"--- {' '.join(args)}: the end of its output ---\n{tail}", file=sys.stderr)
            raise
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def settings_of(config: Path) -> tuple[int, int]:
    document = json.loads(config.read_text())
    port = int(document["docker_registry"]["http"]["addr"].rsplit(":", 1)[1])
    return port, int(document["flower"]["port"])


def log_path(config: Path, args: tuple[str, ...]) -> Path:
    """Each command its own log: a line `up` logged must not stand for `run worker`."""
    return config.parent / f"{'-'.join(args)}.log"


def log_has(config: Path, args: tuple[str, ...], text: str) -> Callable[[], bool]:
    path = log_path(config, args)
    return lambda: path.exists() and text in path.read_text(errors="replace")


def measure_up(tree: Tree, config: Path, args: argparse.Namespace) -> Scenario:
    port, flower_port = settings_of(config)
    scenario = Scenario("hth-ctl up")
    with tree.hth_ctl(config, "up") as proc:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 120, "registry", proc)
        flower = f"http://127.0.0.1:{flower_port}/healthcheck"
        wait_until(lambda: answers(flower), 120, "Flower", proc)
        wait_until(log_has(config, ("up",), " ready."), 120, "the worker ready", proc)
        time.sleep(args.settle)
        scenario.idle = tree_memory(proc.pid)
        url = push_small_image(port)
        manifest_gets(port, url, args.gets)
        scenario.note = f"GC task: {run_gc(port)}"
        time.sleep(args.settle)
        scenario.loaded = tree_memory(proc.pid)
    return scenario


def measure_alone(tree: Tree, config: Path, component: str, args: argparse.Namespace) -> Scenario:
    port, flower_port = settings_of(config)
    scenario = Scenario(f"hth-ctl run {component}")
    ready: dict[str, Callable[[], bool]] = {
        "registry": lambda: answers(f"http://127.0.0.1:{port}/healthz"),
        "worker": log_has(config, ("run", "worker"), " ready."),
        "beat": log_has(config, ("run", "beat"), " started (tick"),
        "flower": lambda: answers(f"http://127.0.0.1:{flower_port}/healthcheck"),
    }
    with tree.hth_ctl(config, "run", component) as proc:
        wait_until(ready[component], 120, f"{component} ready", proc)
        time.sleep(args.settle)
        scenario.idle = tree_memory(proc.pid)
        if component == "registry":
            manifest_gets(port, push_small_image(port), args.gets)
            time.sleep(args.settle)
            scenario.loaded = tree_memory(proc.pid)
    return scenario


def measure_distribution(workdir: Path, args: argparse.Namespace) -> Scenario | None:
    binary = shutil.which("docker-registry")
    if binary is None:
        print("docker-registry not installed: no reference row", file=sys.stderr)
        return None
    folder = workdir / "distribution"
    folder.mkdir()
    port = free_port()
    # JSON is YAML: no yaml module needed. Debian's packaged config enables this cache.
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(folder / "storage")},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
        },
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    (folder / "config.yml").write_text(json.dumps(config))
    scenario = Scenario("Distribution (docker-registry serve)")
    with open(folder / "out.log", "ab") as log:
        proc = subprocess.Popen(
            [binary, "serve", str(folder / "config.yml")], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/v2/"), 30, "Distribution", proc)
        time.sleep(args.settle)
        scenario.idle = [memory_of(proc.pid, "docker-registry")]
        manifest_gets(port, push_small_image(port), args.gets)
        time.sleep(args.settle)
        scenario.loaded = [memory_of(proc.pid, "docker-registry")]
    finally:
        proc.terminate()
        proc.wait(30)
    return scenario


def _cell(rows: list[Memory], index: int) -> str:
    if index >= len(rows):
        return "| | "
    return f"| {rows[index].rss_mib:.1f} | {rows[index].pss_mib:.1f} "


def _total(rows: list[Memory]) -> str:
    if not rows:
        return "| | "
    rss, pss = sum(r.rss_mib for r in rows), sum(r.pss_mib for r in rows)
    return f"| **{rss:.1f}** | **{pss:.1f}** "


def print_table(scenarios: list[Scenario]) -> None:
    print("| scenario | process | idle RSS | idle PSS | loaded RSS | loaded PSS |")
    print("|---|---|---:|---:|---:|---:|")
    for s in scenarios:
        for i, row in enumerate(s.idle):
            print(f"| {s.name} | {row.role} {_cell(s.idle, i)}{_cell(s.loaded, i)}|")
        print(f"| {s.name} | **total** {_total(s.idle)}{_total(s.loaded)}|")
        if s.note:
            print(f"| {s.name} | ({s.note}) | | | | |")


def print_targets(up: Scenario, reference: Scenario | None) -> None:
    workers = [r.rss_mib for r in up.idle + up.loaded if r.role == "registry HTTP worker"]
    supervisor = [r.rss_mib for r in up.idle if r.role == "up supervisor"]
    total = sum(r.rss_mib for r in up.idle)
    checks = [
        (
            "each registry HTTP worker, idle and loaded (RSS)",
            max(workers, default=0.0),
            TARGETS["registry HTTP worker"],
        ),
        ("the up supervisor (RSS)", max(supervisor, default=0.0), TARGETS["up supervisor"]),
        ("the whole platform at idle (RSS)", total, TARGETS["platform total"]),
    ]
    print()
    for label, value, target in checks:
        verdict = "met" if value <= target else "NOT met"
        print(f"target {label}: {value:.1f} MiB <= {target:.0f} MiB: {verdict}")
    if reference and reference.idle:
        theirs = reference.idle[0].rss_mib
        print(
            f"platform at idle / Distribution at idle (RSS): {total:.1f} / {theirs:.1f} = "
            f"{total / theirs:.1f}x"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = Path(__file__).resolve().parents[1]
    parser.add_argument("--tree", type=Path, default=here, help="checkout to measure")
    parser.add_argument("--gets", type=int, default=1000, help="manifest GETs of the load")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before a sample")
    parser.add_argument("--skip-alone", action="store_true", help="only up and Distribution")
    parser.add_argument("--json", type=Path, help="write every row to this file")
    parser.add_argument(
        "--extra-path", help="put first on the PYTHONPATH of the processes (a sitecustomize)"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="hth-footprint-") as temp:
        tree = Tree(args.tree.resolve(), Path(temp), args.extra_path)
        config = tree.config("platform")
        up = measure_up(tree, config, args)
        scenarios = [up]
        if not args.skip_alone:
            # On the database `up` migrated, as on any restart: a process that finds the
            # schema behind migrates it and keeps Alembic in memory until it stops.
            for component in ("registry", "worker", "beat", "flower"):
                scenarios.append(measure_alone(tree, config, component, args))
        reference = measure_distribution(Path(temp), args)
        if reference:
            scenarios.append(reference)
    print(f"tree: {tree.root}  python: {tree.python}  cpus: {os.cpu_count()}")
    print_table(scenarios)
    print_targets(up, reference)
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in scenarios], indent=1))


if __name__ == "__main__":
    main()
