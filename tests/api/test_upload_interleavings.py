"""Random interleavings of PATCH/PUT/DELETE/mount on a few upload sessions, sent at once from
several connections to two registry processes sharing storage and database (hypothesis).

After each run: nothing answered 500; every digest answered 201 serves bytes that hash to it;
every blob in the store hashes to its name; every live session holds exactly the chunks it
acknowledged, in the places the acknowledgements said.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testbed.processes import RegistryProcess, cluster_of_two
from testbed.raw_http import RawConnection, RawResponse, request

SESSIONS = 3
KINDS = (
    "patch",
    "patch_range",
    "patch_lie",
    "patch_abort",
    "put",
    "put_wrong",
    "delete",
    "mount",
    "status",
)


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@dataclass(frozen=True)
class Op:
    kind: str
    session: int
    payload: bytes
    instance: int
    pause: float  # between the two halves of a body: other requests land meanwhile


@dataclass
class Session:
    location: str
    chunks: dict[int, bytes] = field(default_factory=dict)  # offset -> acknowledged chunk
    alive: bool = True

    def content(self) -> bytes:
        data = b""
        for offset in sorted(self.chunks):
            assert offset == len(data), f"acknowledged chunks leave a gap: {self.chunks.keys()}"
            data += self.chunks[offset]
        return data


@dataclass
class Run:
    repo: str
    sessions: list[Session]
    created: list[tuple[str, str]] = field(default_factory=list)  # (repository, digest)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


ops = st.builds(
    Op,
    kind=st.sampled_from(KINDS),
    session=st.integers(0, SESSIONS - 1),
    payload=st.binary(min_size=0, max_size=3000),
    instance=st.integers(0, 1),
    pause=st.sampled_from([0.0, 0.01, 0.05]),
)
batches = st.lists(st.lists(ops, min_size=1, max_size=4), min_size=1, max_size=6)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RegistryProcess]]:
    with cluster_of_two(tmp_path_factory.mktemp("interleavings")) as (first, second):
        yield [first, second]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=batches)
def test_interleaved_uploads_never_serve_a_digest_that_lies(
    cluster: list[RegistryProcess], batches: list[list[Op]]
) -> None:
    run = new_run(cluster[0])
    for batch in batches:
        threads = [threading.Thread(target=perform, args=(cluster, run, op)) for op in batch]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert 500 not in run.statuses
    check_created_blobs(cluster[1], run)
    check_sessions(cluster[0], run)
    check_blob_store(cluster[0].storage_root)


def new_run(server: RegistryProcess) -> Run:
    repo = f"interleave/r{uuid.uuid4().hex[:10]}"
    sessions = []
    for _ in range(SESSIONS):
        answer = request(server.port, "POST", f"/v2/{repo}/blobs/uploads/")
        assert answer.status == 202
        sessions.append(Session(answer.headers["location"]))
    return Run(repo, sessions)


def perform(cluster: list[RegistryProcess], run: Run, op: Op) -> None:
    port = cluster[op.instance].port
    session = run.sessions[op.session]
    with run.lock:
        content = session.content()
    answer = ACTIONS[op.kind](port, run, session, op, content)
    with run.lock:
        run.statuses.append(answer.status)
        record(run, session, op, content, answer)


def record(run: Run, session: Session, op: Op, content: bytes, answer: RawResponse) -> None:
    if op.kind.startswith("patch") and answer.status == 202:
        assert op.kind != "patch_lie", "a chunk that lied about its length was accepted"
        end = int(answer.headers["range"].partition("-")[2])
        if op.payload:
            session.chunks[end + 1 - len(op.payload)] = op.payload
    elif op.kind in ("put", "put_wrong") and answer.status == 201:
        assert op.kind == "put", "a wrong digest was accepted"
        run.created.append((run.repo, sha256(content)))
        session.alive = False
    elif op.kind in ("put", "put_wrong") and answer.status == 400:
        assert answer.error_code == "DIGEST_INVALID"
        session.alive = False  # a digest that does not match ends the upload
    elif op.kind == "delete" and answer.status == 204:
        session.alive = False
    elif op.kind == "mount" and answer.status == 201:
        run.created.append((f"{run.repo}-mounted", answer.headers["docker-content-digest"]))


def send_in_halves(
    port: int, method: str, target: str, body: bytes, headers: dict[str, str], pause: float
) -> RawResponse:
    with RawConnection(port) as conn:
        conn.send_head(method, target, {"Content-Length": str(len(body)), **headers})
        half = len(body) // 2
        conn.send(body[:half])
        time.sleep(pause)
        conn.send(body[half:])
        return conn.response()


def patch(port: int, run: Run, session: Session, op: Op, content: bytes) -> RawResponse:
    return send_in_halves(port, "PATCH", session.location, op.payload, {}, op.pause)


def patch_range(port: int, run: Run, session: Session, op: Op, content: bytes) -> RawResponse:
    if not op.payload:
        return patch(port, run, session, op, content)
    end = len(content) + len(op.payload) - 1
    headers = {"Content-Range": f"{len(content)}-{end}"}
    return send_in_halves(port, "PATCH", session.location, op.payload, headers, op.pause)


def patch_lie(port: int, run: Run, session: Session, op: Op, content: bytes) -> RawResponse:
    """A chunked body whose length differs from its Content-Range (shorter or longer)."""
    declared = len(op.payload) + (7 if len(op.payload) % 2 else -1)
    headers = {"Transfer-Encoding": "chunked", "Content-Range": f"{len(content)}-"}
    headers["Content-Range"] += str(len(content) + max(declared, 1) - 1)
    with RawConnection(port) as conn:
        conn.send_head("PATCH", session.location, headers)
        if op.payload:
            conn.send_chunk(op.payload)
        time.sleep(op.pause)
        conn.send_chunk(b"")
        return conn.response()


def patch_abort(port: int, run: Run, session: Session, op: Op, content: bytes) -> RawResponse:
    """A chunk with a Content-Range whose client hangs up half-way: nothing of it may stay."""
    end = len(content) + len(op.payload)
    with RawConnection(port) as conn:
        headers = {
            "Content-Length": str(len(op.payload) + 1),
            "Content-Range": f"{len(content)}-{end}",
        }
        conn.send_head("PATCH", session.location, headers)
        conn.send(op.payload)
        time.sleep(op.pause)
    return RawResponse(0)  # no answer: the client is gone


def put(port: int, run: Run, session: Session, op: Op, content: bytes) -> RawResponse:
    target = f"{session.location}?digest={sha256(content)}"
    return request(port, "PUT", target)


def put_wrong(port: int, run: Run, session: Session, op: Op, content: bytes) -> RawResponse:
    target = f"{session.location}?digest={sha256(content + b'not there')}"
    return request(port, "PUT", target)


def delete(port: int, run: Run, session: Session, op: Op, content: bytes) -> RawResponse:
    return request(port, "DELETE", session.location)


def mount(port: int, run: Run, session: Session, op: Op, content: bytes) -> RawResponse:
    with run.lock:
        digests = [digest for repo, digest in run.created if repo == run.repo]
    digest = digests[-1] if digests else sha256(op.payload)
    target = f"/v2/{run.repo}-mounted/blobs/uploads/?mount={digest}&from={run.repo}"
    answer = request(port, "POST", target)
    if answer.status == 202:  # nothing to mount: an upload was started instead
        request(port, "DELETE", answer.headers["location"])
    return answer


def status(port: int, run: Run, session: Session, op: Op, content: bytes) -> RawResponse:
    return request(port, "GET", session.location)


ACTIONS = {
    "patch": patch,
    "patch_range": patch_range,
    "patch_lie": patch_lie,
    "patch_abort": patch_abort,
    "put": put,
    "put_wrong": put_wrong,
    "delete": delete,
    "mount": mount,
    "status": status,
}


def check_created_blobs(server: RegistryProcess, run: Run) -> None:
    for repo, digest in run.created:
        answer = request(server.port, "GET", f"/v2/{repo}/blobs/{digest}")
        assert answer.status == 200, (repo, digest, answer.status)
        assert sha256(answer.body) == digest


def check_sessions(server: RegistryProcess, run: Run) -> None:
    """Every live session holds exactly its acknowledged chunks (nothing a refused or
    failed request sent)."""
    for session in run.sessions:
        answer = request(server.port, "GET", session.location)
        if not session.alive:
            assert answer.status == 404
            continue
        assert answer.status == 204
        content = session.content()
        assert answer.headers["range"] == f"0-{max(len(content) - 1, 0)}"
        finish = request(server.port, "PUT", f"{session.location}?digest={sha256(content)}")
        for _ in range(50):  # an aborted chunk holds the session until its hang-up is seen
            if finish.status != 416:
                break
            time.sleep(0.1)
            finish = request(server.port, "PUT", f"{session.location}?digest={sha256(content)}")
        assert finish.status == 201, finish.body


def check_blob_store(root: Path) -> None:
    blobs = root / "docker/registry/v2/blobs/sha256"
    for data in blobs.glob("*/*/data"):
        assert sha256(data.read_bytes()) == f"sha256:{data.parent.name}"
