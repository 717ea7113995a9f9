"""Cloud storage drivers benchmark: push (monolithic and chunked) and pull of one big blob per
driver against its emulator, ours vs Distribution 2.8 on the same emulator, ratios printed.

Distribution: Debian's `docker-registry` 2.8.2 for s3 and swift; for azure and gcs, which
Debian leaves out, 2.8.2 built by bench/build_distribution.sh (run when missing). No
Distribution has oss, so it is measured for ours alone. Emulators and processes:
bench/storage_backends.py. With `--shared-tree` (s3, gcs) Distribution works on our tree, so
the pulls of both registries read the same object: the backend's speed at serving one object
or another then drops out of the pull rows. Quick run:

    .venv/bin/python bench/storage_bench.py --size-mib 64 --drivers s3
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pool_results import Rounds, report  # noqa: E402
from storage_backends import (  # noqa: E402
    BACKENDS,
    Backend,
    blob_forgetter,
    distribution_binaries,
    start_distribution,
    start_ours,
)

from testbed.cloud_registry import CloudStorage  # noqa: E402

MiB = 1 << 20
REPO = "bench/blob"
DRIVERS = ["s3", "swift", "azure", "gcs", "oss"]
REDIRECT_METRIC = "307 answer /s"  # how fast the registry answers a blob GET with its redirect


# --- the registries under test -------------------------------------------------------------------


@dataclass
class Results:
    """One registry's samples, kept by round (a redirecting registry shares them with its
    streaming twin): pool_results pairs the rounds of both registries."""

    rounds: dict[str, Rounds] = field(default_factory=dict)  # metric -> samples of each round
    round: int = 0  # the one being measured, from 0

    def record(self, metric: str, value: float) -> None:
        rounds = self.rounds.setdefault(metric, [])
        rounds.extend([] for _ in range(self.round + 1 - len(rounds)))
        rounds[self.round].append(value)

    def keep_rounds(self, count: int) -> None:
        """Forget the samples of every round after the first `count` (an unfinished one)."""
        for rounds in self.rounds.values():
            del rounds[count:]


@dataclass
class Registry:
    """One registry process; `forget` deletes a blob behind its back so every push is new."""

    name: str
    port: int
    forget: Callable[[str], None]
    results: Results = field(default_factory=Results)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)

    def record(self, metric: str, value: float) -> None:
        self.results.record(metric, value)


# --- HTTP: bodies go out with sendfile and come back into one buffer --------------------------


def _send(
    conn: http.client.HTTPConnection,
    method: str,
    url: str,
    headers: dict[str, str],
    body: tuple[int, int, int] | None = None,
) -> http.client.HTTPResponse:
    conn.putrequest(method, url, skip_accept_encoding=True)
    for key, value in {**headers, "Content-Length": str(body[2] if body else 0)}.items():
        conn.putheader(key, value)
    conn.endheaders()
    if body is not None:
        fd, offset, count = body
        assert conn.sock is not None
        with os.fdopen(os.dup(fd), "rb") as handle:
            conn.sock.sendfile(handle, offset, count)
    return conn.getresponse()


def _expect(response: http.client.HTTPResponse, status: int, what: str) -> None:
    data = response.read()
    if response.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {response.status}: {data[:300]!r}")


def _path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def push(registry: Registry, fd: int, size: int, digest: str, chunk: int | None) -> None:
    """POST, then one PUT with the whole blob (`chunk` None) or PATCHes of `chunk` and a PUT."""
    conn = registry.connection()
    response = _send(conn, "POST", f"/v2/{REPO}/blobs/uploads/", {})
    _expect(response, 202, "POST upload")
    location = _path(response.headers["Location"])
    octet = {"Content-Type": "application/octet-stream"}
    if chunk is None:
        response = _send(conn, "PUT", _with_digest(location, digest), octet, (fd, 0, size))
        _expect(response, 201, "PUT monolithic")
        return conn.close()
    for start in range(0, size, chunk):
        count = min(chunk, size - start)
        headers = {**octet, "Content-Range": f"{start}-{start + count - 1}"}
        response = _send(conn, "PATCH", location, headers, (fd, start, count))
        _expect(response, 202, f"PATCH at {start}")
        location = _path(response.headers["Location"])
    _expect(_send(conn, "PUT", _with_digest(location, digest), {}), 201, "PUT chunked")
    conn.close()


def pull(registry: Registry, size: int, digest: str) -> float | None:
    """GET the blob, following a 307 to the backend; returns the seconds the registry took to
    answer with the 307 (None: it sent the blob itself)."""
    started = time.perf_counter()
    conn = registry.connection()
    conn.request("GET", f"/v2/{REPO}/blobs/{digest}")
    response = conn.getresponse()
    redirect = None
    if response.status == 307:
        response.read()
        redirect = time.perf_counter() - started
        conn.close()
        url = urlsplit(response.headers["Location"])
        conn = http.client.HTTPConnection(url.hostname or "", url.port or 80, timeout=900)
        conn.request("GET", _path(response.headers["Location"]))
        response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET blob: {response.status} {response.read()[:300]!r}")
    buffer, received = memoryview(bytearray(4 * MiB)), 0
    while count := response.readinto(buffer):
        received += count
    conn.close()
    if received != size:
        raise RuntimeError(f"GET blob: received {received} bytes, expected {size}")
    return redirect


def timed(registry: Registry, metric: str, size: int, run: Callable[[], object]) -> None:
    started = time.perf_counter()
    run()
    registry.record(metric, size / MiB / (time.perf_counter() - started))


# --- one driver ----------------------------------------------------------------------------


@dataclass
class Blob:
    fd: int
    size: int
    digest: str


@contextmanager
def random_blob(workdir: Path, size: int) -> Iterator[Blob]:
    path, digest = workdir / "blob.bin", hashlib.sha256()
    with path.open("wb") as handle:
        for offset in range(0, size, 16 * MiB):
            piece = os.urandom(min(16 * MiB, size - offset))
            digest.update(piece)
            handle.write(piece)
    fd = os.open(path, os.O_RDONLY)
    try:
        yield Blob(fd, size, "sha256:" + digest.hexdigest())
    finally:
        os.close(fd)
        path.unlink()


def bench_driver(
    name: str, workdir: Path, blob: Blob, args: argparse.Namespace, binary: str | None
) -> dict[str, Any]:
    """Ours (and Distribution's `binary`, where it has the driver) on one emulator: every round
    pushes through each redirecting registry, then pulls `--pulls` times through each of them
    and its `redirect: off` twin, taking turns so that both registries meet the same load."""
    with ExitStack() as stack:
        backend = BACKENDS[name](stack, workdir)
        pairs = [start_our_pair(stack, workdir, name, backend.ours)]
        theirs = their_storage(backend, pairs[0][0].forget if args.shared_tree else None)
        if binary and theirs is not None:
            storage, forget = theirs
            pairs.append(start_their_pair(stack, workdir, binary, storage, forget))
        if args.warmup:
            warm_up_pushes(pairs, blob)
        for number in range(1, args.repeat + 1):
            for registry, _ in pairs:
                registry.results.round = number - 1
            # Who goes first changes every round: an emulator warms up, or fills up.
            try:
                bench_round(pairs if number % 2 else pairs[::-1], blob, args)
            except (RuntimeError, OSError) as exc:  # e.g. Azurite's in-memory store is full
                print(f"  round {number} failed, {number - 1} kept: {exc}", flush=True)
                for registry, _ in pairs:
                    registry.results.keep_rounds(number - 1)
                break
            for registry, _ in pairs:
                print(f"  round {number} {registry.name}: {_latest(registry)}", flush=True)
        return {registry.name: registry.results.rounds for registry, _ in pairs}


def their_storage(
    backend: Backend, forget_ours: Callable[[str], None] | None
) -> tuple[dict[str, Any], Callable[[str], None]] | None:
    """Distribution's `storage` section and how to forget a blob there; None: no driver.

    With `forget_ours` (--shared-tree) Distribution gets our root directory, where ours'
    forget works: both registries push into our tree (each forgets the blob first), so the
    pulls of a round all read the one object pushed last, which alternates between them.
    Only drivers whose Distribution section has a root directory can share (s3, gcs).
    """
    if backend.theirs is None or backend.theirs_forget is None:
        return None
    if forget_ours is None:
        return backend.theirs, backend.theirs_forget
    ((driver, section),) = backend.theirs.items()
    if "rootdirectory" not in section:
        return None
    root = backend.ours.settings["rootdirectory"]
    return {driver: {**section, "rootdirectory": root}}, forget_ours


def bench_round(
    turns: list[tuple[Registry, Registry]], blob: Blob, args: argparse.Namespace
) -> None:
    """Pushes through each redirecting registry in `turns` order, then the pulls."""
    for registry, _ in turns:
        push_round(registry, blob, args.chunk_mib * MiB)
    if args.warmup:
        warm_up_pulls(turns, blob)
    for pull_number in range(args.pulls):
        # Turns change from one pull to the next too, so neither registry's pulls always
        # follow the other's.
        for registry, streaming in turns if pull_number % 2 == 0 else turns[::-1]:
            pull_round(registry, streaming, blob)


def warm_up_pushes(pairs: list[tuple[Registry, Registry]], blob: Blob) -> None:
    """One untimed push each: the first big upload into a fresh emulator is slower for
    whichever registry makes it (fake-gcs-server's Go heap grows then)."""
    for registry, _ in pairs:
        registry.forget(blob.digest)
        push(registry, blob.fd, blob.size, blob.digest, None)


def warm_up_pulls(pairs: list[tuple[Registry, Registry]], blob: Blob) -> None:
    """One untimed pull each through the streaming twins: likewise the first big read after
    the pushes (the first pull of a round lost 20-40% on moto and Azurite, whoever made it)."""
    for _, streaming in pairs:
        pull(streaming, blob.size, blob.digest)


def start_our_pair(
    stack: ExitStack, workdir: Path, name: str, storage: CloudStorage
) -> tuple[Registry, Registry]:
    forget = blob_forgetter(name, storage.settings)
    ours = Registry("ours", start_ours(stack, workdir / "ours", storage), forget)
    plain = storage.with_settings(redirect=False)
    streaming = Registry(
        "ours", start_ours(stack, workdir / "ours-nr", plain), forget, ours.results
    )
    return ours, streaming


def start_their_pair(
    stack: ExitStack,
    workdir: Path,
    binary: str,
    storage: dict[str, Any],
    forget: Callable[[str], None],
) -> tuple[Registry, Registry]:
    port = start_distribution(stack, workdir / "theirs", binary, storage)
    theirs = Registry("Distribution", port, forget)
    plain = {**storage, "redirect": {"disable": True}}
    port = start_distribution(stack, workdir / "theirs-nr", binary, plain)
    return theirs, Registry("Distribution", port, forget, theirs.results)


def push_round(registry: Registry, blob: Blob, chunk: int) -> None:
    for metric, chunking in (("monolithic push", None), ("chunked push", chunk)):
        registry.forget(blob.digest)
        send = partial(push, registry, blob.fd, blob.size, blob.digest, chunking)
        timed(registry, f"{metric} MiB/s", blob.size, send)


def pull_round(registry: Registry, streaming: Registry, blob: Blob) -> None:
    started = time.perf_counter()
    redirect = pull(registry, blob.size, blob.digest)
    label = "pull (no redirect offered)" if redirect is None else "pull, follows 307"
    registry.record(f"{label} MiB/s", blob.size / MiB / (time.perf_counter() - started))
    if redirect is not None:  # the registry's own share of that pull, as answers a second
        registry.record(REDIRECT_METRIC, 1 / redirect)
    through = partial(pull, streaming, blob.size, blob.digest)
    timed(streaming, "pull through the registry MiB/s", blob.size, through)


def _latest(registry: Registry) -> str:
    """This round's figures: its pushes, every one of its pulls, and its median 307 answer."""
    parts = []
    for metric, rounds in registry.results.rounds.items():
        values = rounds[registry.results.round]
        if metric == REDIRECT_METRIC:
            parts.append(f"307 answer {1000 / statistics.median(values):.1f} ms")
        else:
            figures = "/".join(f"{value:.0f}" for value in values)
            parts.append(f"{metric.removesuffix(' MiB/s')} {figures}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="blob size (default 1 GiB)")
    parser.add_argument("--chunk-mib", type=int, default=16, help="PATCH size of chunked pushes")
    parser.add_argument("--drivers", default=",".join(DRIVERS), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="rounds per driver (one ratio each)")
    parser.add_argument("--pulls", type=int, default=10, help="pulls of each kind per round")
    parser.add_argument(
        "--no-warmup", dest="warmup", action="store_false", help="skip the untimed warm-ups"
    )
    parser.add_argument(
        "--shared-tree",
        action="store_true",
        help="Distribution on our tree (s3, gcs): both registries' pulls read the same object",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write every sample here")
    args = parser.parse_args()
    # A plain SIGTERM would skip the ExitStacks and leave emulators and registries running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    drivers = args.drivers.split(",")
    binaries = distribution_binaries(drivers)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="storage-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    all_results = {}
    with random_blob(workdir, args.size_mib * MiB) as blob:
        for name in drivers:
            print(f"== {name}: {args.size_mib} MiB blob, {args.chunk_mib} MiB chunks", flush=True)
            started = time.monotonic()
            all_results[name] = bench_driver(name, workdir / name, blob, args, binaries[name])
            print(f"  ({time.monotonic() - started:.0f}s)", flush=True)
            report({name: all_results[name]})
            if args.json:  # after every driver: a later one's failure loses nothing
                args.json.write_text(json.dumps(all_results, indent=2))
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
