"""Memory of a registry while clients send huge request heads: RSS before, during, after.

Starts one registry (filesystem storage in a temporary directory), then N connections at once
each send a request whose one header is SIZE MiB, and reads what the registry answers. RSS
(VmRSS of the process and its uvicorn workers) is sampled every 20 ms:

    .venv/bin/python bench/hostile_heads.py --size-mib 64 --connections 4 --workers 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testbed.processes import RegistryProcess  # noqa: E402
from testbed.raw_http import RawConnection, parse_status, rss_kib  # noqa: E402

MiB = 1 << 20


def hostile(port: int, size: int, statuses: Counter[str]) -> None:
    head = b"GET /v2/ HTTP/1.1\r\nHost: r\r\nX-Big: "
    with RawConnection(port, timeout=300) as connection:
        sent = connection.send_quietly(head + b"a" * size + b"\r\n\r\n")
        _, answer = connection.until_closed()
    status = str(parse_status(answer)) if answer else "closed without an answer"
    statuses[f"{status}{'' if sent else ' (send cut short)'}"] += 1


def sample(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_kib(pid))
        time.sleep(0.02)


def measure(registry: RegistryProcess, size: int, connections: int) -> None:
    assert registry.proc is not None
    pid = registry.proc.pid
    time.sleep(1)
    before = rss_kib(pid)
    statuses: Counter[str] = Counter()
    stop, peak = threading.Event(), [before]
    sampler = threading.Thread(target=sample, args=(pid, stop, peak))
    sampler.start()
    started = time.monotonic()
    clients = [
        threading.Thread(target=hostile, args=(registry.port, size, statuses))
        for _ in range(connections)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    elapsed = time.monotonic() - started
    stop.set()
    sampler.join()
    time.sleep(1)
    after = rss_kib(pid)
    print(f"answers: {dict(statuses)} in {elapsed:.1f}s")
    print(f"RSS MiB: before {before / 1024:.1f}, peak during {peak[0] / 1024:.1f}, ", end="")
    print(f"after {after / 1024:.1f} (growth kept: {(after - before) / 1024:+.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64, help="size of the one header")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="docker_registry.http.workers")
    parser.add_argument("--parser", default=None, help="docker_registry.http.parser")
    args = parser.parse_args()
    http: dict[str, object] = {"workers": args.workers}
    if args.parser:
        http["parser"] = args.parser
    with tempfile.TemporaryDirectory(prefix="hostile-heads-") as workdir:
        registry = RegistryProcess(Path(workdir), {"docker_registry": {"http": http}}).start()
        try:
            measure(registry, args.size_mib * MiB, args.connections)
        finally:
            registry.stop()


if __name__ == "__main__":
    main()
