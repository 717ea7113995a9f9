"""Benchmark our registry against Distribution's (`docker-registry serve`) side by side.

Measures monolithic and chunked blob pushes, a blob pull, manifest GETs under concurrency (wrk)
and the registry's peak RSS while pushing; prints ours / theirs ratios. Quick run:

    .venv/bin/python bench/registry_bench.py --size-mib 64 --duration 3 --repeat 1
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testbed.distribution import DistributionProcess  # noqa: E402
from testbed.processes import RegistryProcess  # noqa: E402
from testbed.raw_http import descendants  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
REPO = "bench/blob"
MANIFEST_REPO = "bench/manifest"
ACCEPT = (
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json"
)


@dataclass
class Target:
    """One registry under test: where it listens, its root PID and its storage tree."""

    name: str
    port: int
    pid: int
    storage_root: Path
    results: dict[str, list[float]] = field(default_factory=dict)

    def record(self, metric: str, value: float) -> None:
        self.results.setdefault(metric, []).append(value)

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def forget_blob(self, digest: str) -> None:
        """Remove a blob's data so the next push stores it anew (timed pushes stay equal)."""
        hex_ = digest.removeprefix("sha256:")
        blob = self.storage_root / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_
        shutil.rmtree(blob, ignore_errors=True)


# --- HTTP primitives (http.client; bodies go out with sendfile, so the client stays cheap) ---


def _path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def _send(
    conn: http.client.HTTPConnection,
    method: str,
    url: str,
    headers: dict[str, str],
    body: tuple[int, int, int] | bytes = b"",
) -> http.client.HTTPResponse:
    """Send a request; `body` is bytes or (fd, offset, count) sent with sendfile."""
    conn.putrequest(method, url, skip_accept_encoding=True)
    length = body[2] if isinstance(body, tuple) else len(body)
    for key, value in {**headers, "Content-Length": str(length)}.items():
        conn.putheader(key, value)
    conn.endheaders()
    assert conn.sock is not None
    if isinstance(body, tuple):
        fd, offset, count = body
        with os.fdopen(os.dup(fd), "rb") as handle:
            conn.sock.sendfile(handle, offset, count)
    elif body:
        conn.sock.sendall(body)
    response = conn.getresponse()
    return response


def _expect(response: http.client.HTTPResponse, status: int, what: str) -> bytes:
    data = response.read()
    if response.status != status:
        raise RuntimeError(f"{what}: expected {status}, got {response.status}: {data[:500]!r}")
    return data


def start_upload(conn: http.client.HTTPConnection, repo: str) -> str:
    response = _send(conn, "POST", f"/v2/{repo}/blobs/uploads/", {})
    _expect(response, 202, "POST upload")
    return _path(response.headers["Location"])


def push_monolithic(target: Target, fd: int, size: int, digest: str) -> None:
    conn = target.connection()
    location = start_upload(conn, REPO)
    octet = {"Content-Type": "application/octet-stream"}
    response = _send(conn, "PUT", _with_digest(location, digest), octet, (fd, 0, size))
    _expect(response, 201, "PUT monolithic upload")
    conn.close()


def push_chunked(target: Target, fd: int, size: int, digest: str, chunk: int) -> None:
    conn = target.connection()
    location = start_upload(conn, REPO)
    for start in range(0, size, chunk):
        count = min(chunk, size - start)
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{start}-{start + count - 1}",
        }
        response = _send(conn, "PATCH", location, headers, (fd, start, count))
        _expect(response, 202, f"PATCH {start}")
        location = _path(response.headers["Location"])
    _expect(_send(conn, "PUT", _with_digest(location, digest), {}), 201, "PUT chunked upload")
    conn.close()


def pull(target: Target, size: int, digest: str) -> None:
    conn = target.connection()
    conn.request("GET", f"/v2/{REPO}/blobs/{digest}")
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET blob: {response.status} {response.read()[:300]!r}")
    buffer = memoryview(bytearray(4 * MiB))
    received = 0
    while count := response.readinto(buffer):
        received += count
    conn.close()
    if received != size:
        raise RuntimeError(f"GET blob: received {received} bytes, expected {size}")


def push_small_image(target: Target) -> None:
    """config + one layer + an OCI manifest tagged `latest`, for the manifest GET load."""
    conn = target.connection()
    blobs = {}
    for media_type, data in (
        ("application/vnd.oci.image.config.v1+json", b'{"architecture":"amd64","os":"linux"}'),
        ("application/vnd.oci.image.layer.v1.tar", os.urandom(4096)),
    ):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        location = start_upload(conn, MANIFEST_REPO)
        octet = {"Content-Type": "application/octet-stream"}
        _expect(_send(conn, "PUT", _with_digest(location, digest), octet, data), 201, "PUT blob")
        blobs[media_type] = {"mediaType": media_type, "digest": digest, "size": len(data)}
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blobs["application/vnd.oci.image.config.v1+json"],
        "layers": [blobs["application/vnd.oci.image.layer.v1.tar"]],
    }
    headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    body = json.dumps(manifest).encode()
    url = f"/v2/{MANIFEST_REPO}/manifests/latest"
    _expect(_send(conn, "PUT", url, headers, body), 201, "PUT manifest")
    conn.request("GET", url, headers={"Accept": ACCEPT})
    _expect(conn.getresponse(), 200, "GET manifest")
    conn.close()


# --- measurements ---


def tree_rss_mib(root: int) -> float:
    """VmRSS summed over a process and all its descendants (uvicorn workers)."""
    total_kib = 0
    for pid in [root, *descendants(root)]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total_kib += int(found.group(1)) if found else 0
    return total_kib / 1024


@contextmanager
def rss_peak(target: Target) -> Iterator[None]:
    """Sample the tree's RSS every 20 ms while the body runs; record the peak and the growth
    over the RSS before it started (flat means no whole-blob buffering)."""
    before = tree_rss_mib(target.pid)
    peak, stop = [before], threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], tree_rss_mib(target.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        stop.set()
        sampler.join()
        target.record("peak RSS MiB (push)", peak[0])
        target.record("RSS growth MiB (push)", peak[0] - before)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of a process and its descendants, all threads included."""
    ticks = 0
    for pid in [root, *descendants(root)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def timed(target: Target, label: str, size: int, run: Callable[[], None]) -> None:
    """Run one transfer; record MiB/s, the server's CPU seconds per GiB (steadier than
    wall time on a busy machine) and the bench's own CPU share of the wall time."""
    os.sync()  # flush the previous run's dirty pages outside the timed window
    server = tree_cpu_seconds(target.pid)
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    server = tree_cpu_seconds(target.pid) - server
    target.record(f"{label} MiB/s", size / MiB / wall)
    target.record(f"{label}: server CPU s/GiB", server * GiB / size)
    target.record(f"{label}: client CPU %", 100 * cpu / wall)


def wrk_requests_per_second(target: Target, clients: int, seconds: int, lua: Path) -> float:
    url = f"http://127.0.0.1:{target.port}/v2/{MANIFEST_REPO}/manifests/latest"
    args = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "-s", str(lua), url]
    out = subprocess.run(args, capture_output=True, text=True, check=False, timeout=seconds + 60)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    errors = re.search(r"Socket errors: (.*)", out.stdout)
    if bad or errors:
        print(f"  warning: {target.name}: {bad and bad.group(0)} {errors and errors.group(0)}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if not found:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out.stdout}\n{out.stderr}")
    return float(found.group(1))


# --- orchestration ---


def make_blob_file(path: Path, size: int) -> str:
    """Random data streamed to disk in 16 MiB pieces; returns its sha256 digest."""
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for start in range(0, size, 16 * MiB):
            piece = os.urandom(min(16 * MiB, size - start))
            digest.update(piece)
            handle.write(piece)
    return "sha256:" + digest.hexdigest()


def pushes(target: Target, fd: int, size: int, digest: str, chunk: int) -> None:
    """One monolithic push, then one chunked push of the same blob; RSS sampled across both."""
    target.forget_blob(digest)
    with rss_peak(target):
        mono = partial(push_monolithic, target, fd, size, digest)
        timed(target, "monolithic push", size, mono)
        target.forget_blob(digest)
        chunked = partial(push_chunked, target, fd, size, digest, chunk)
        timed(target, "chunked push", size, chunked)


def warm_up(target: Target, workdir: Path) -> None:
    """A few small pushes and pulls on fresh connections, so every worker process has
    served each kind of request before the timed runs."""
    blob = workdir / "warm-up.bin"
    digest = make_blob_file(blob, 4 * MiB)
    fd = os.open(blob, os.O_RDONLY)
    try:
        for _ in range(4):
            target.forget_blob(digest)
            push_monolithic(target, fd, 4 * MiB, digest)
            target.forget_blob(digest)
            push_chunked(target, fd, 4 * MiB, digest, MiB)
            pull(target, 4 * MiB, digest)
    finally:
        os.close(fd)


def run_round(targets: list[Target], args: argparse.Namespace, blob: Path, digest: str) -> None:
    """Pushes per target, then pulls alternating between targets (load drifts alike)."""
    size = args.size_mib * MiB
    fd = os.open(blob, os.O_RDONLY)
    try:
        for target in targets:
            pushes(target, fd, size, digest, args.chunk_mib * MiB)
    finally:
        os.close(fd)
    for _ in range(args.pulls):
        for target in targets:
            timed(target, "pull", size, partial(pull, target, size, digest))


def report(ours: Target, theirs: Target) -> None:
    """Medians side by side, their ratio, and each side's min-max over the rounds."""
    print(f"\n{'metric':42} {'ours':>8} {'theirs':>8} {'ours/theirs':>11}   spread ours | theirs")
    for metric, values in ours.results.items():
        others = theirs.results[metric]
        mine, other = statistics.median(values), statistics.median(others)
        meaningful = other > 0.05 and "growth" not in metric
        ratio = f"{mine / other:10.2f}x" if meaningful else f"{'-':>11}"
        spread = f"{min(values):.4g}-{max(values):.4g} | {min(others):.4g}-{max(others):.4g}"
        print(f"{metric:42} {mine:8.1f} {other:8.1f} {ratio}   {spread}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="blob size (default 1 GiB)")
    parser.add_argument("--chunk-mib", type=int, default=16, help="PATCH size for chunked push")
    parser.add_argument("--pulls", type=int, default=3, help="blob pulls per round and target")
    parser.add_argument("--concurrency", type=int, default=32, help="wrk connections")
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per run")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; medians are reported")
    parser.add_argument("--workers", type=int, default=2, help="our docker_registry.http.workers")
    parser.add_argument("--workdir", type=Path, help="keep data here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    return parser.parse_args()


def benchmark(targets: list[Target], args: argparse.Namespace, workdir: Path) -> None:
    """Every measurement, `args.repeat` rounds, ours and theirs alternating."""
    for target in targets:
        target.record("idle RSS MiB", tree_rss_mib(target.pid))
    print(f"writing a {args.size_mib} MiB random blob under {workdir}", flush=True)
    blob = workdir / "blob.bin"
    digest = make_blob_file(blob, args.size_mib * MiB)
    lua = workdir / "accept.lua"
    lua.write_text(f'wrk.headers["Accept"] = "{ACCEPT}"\n')
    for target in targets:
        push_small_image(target)
        warm_up(target, workdir)
    for number in range(args.repeat):
        print(f"round {number + 1}/{args.repeat}", flush=True)
        run_round(targets, args, blob, digest)
        for target in targets:
            rps = wrk_requests_per_second(target, args.concurrency, args.duration, lua)
            target.record(f"manifest GET req/s ({args.concurrency} clients)", rps)


def main() -> None:
    args = parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="registry-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = {"docker_registry": {"http": {"workers": args.workers}}}
    ours_proc = RegistryProcess(workdir / "ours", config | {"logging": {"level": "warning"}})
    theirs_proc = DistributionProcess(workdir / "theirs", workdir / "theirs" / "storage", True)
    try:
        ours_proc.start()
        theirs_proc.start()
        assert ours_proc.proc is not None
        ours = Target("ours", ours_proc.port, ours_proc.proc.pid, ours_proc.storage_root)
        theirs = Target("theirs", theirs_proc.port, theirs_proc.pid, theirs_proc.storage_root)
        benchmark([ours, theirs], args, workdir)
        print(
            f"\nsize {args.size_mib} MiB, chunks {args.chunk_mib} MiB, ours with {args.workers} "
            f"worker(s), {os.cpu_count()} CPUs shared with the bench client and wrk"
        )
        report(ours, theirs)
        if args.json:
            samples: dict[str, object] = {"args": {k: str(v) for k, v in vars(args).items()}}
            samples |= {"ours": ours.results, "theirs": theirs.results}
            args.json.write_text(json.dumps(samples, indent=2))
    finally:
        ours_proc.stop()
        theirs_proc.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
