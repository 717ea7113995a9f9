"""Path traversal through names, tags, digests and upload ids, sent as raw request paths to a
real registry: every attempt answers 400 or 404 and nothing is written outside storage."""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.processes import RegistryProcess
from tests.fuzz.counting import count

DIGEST = "sha256:" + "0" * 64
UPLOAD = "0b5c6a5e-0000-4000-8000-000000000000"
CLIMBS = ["..", "%2e%2e", "%2E%2E", ".%2e", "..%2f..", "%2e%2e%2f%2e%2e", "..\\..", "%00", "."]
NAMES = [f"{c}/{c}/outside" for c in CLIMBS] + [
    f"ok/{c}/{c}/outside" for c in CLIMBS
] + ["%2fetc", "ok/./x", "ok//x", "OK/x", "ok/x%2f..%2f..%2foutside"]  # fmt: skip
TAGS = ["..", "%2e%2e", ".hidden", "..%2f..%2foutside", "%2e%2e%2f%2e%2e%2foutside", "a%00b"]
DIGESTS = ["sha256:..%2f..%2foutside", "sha256:%2e%2e", "..%2fsha256:" + "0" * 64,
           DIGEST[:-1] + "%2f", "sha256:" + "0" * 63 + ".", "sha512:..", "sha256:"]  # fmt: skip
UPLOADS = ["..", "%2e%2e", "..%2f..%2foutside", f"{UPLOAD}%2f..%2f..", "%2e%2e%2f%2e%2e%2fx"]
REFUSED = {400, 404}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    workdir = tmp_path_factory.mktemp("traversal")
    (workdir / "outside").mkdir()
    (workdir / "outside" / "sentinel").write_text("untouched")
    server = RegistryProcess(workdir).start()
    yield server
    server.stop()


def _outside(server: RegistryProcess) -> set[str]:
    """Every path under the work folder but outside the storage root and the data folder."""
    found = set()
    for folder, dirs, files in os.walk(server.workdir):
        rel = Path(folder).relative_to(server.workdir)
        if rel.parts[:1] in (("storage",), ("var",)):
            continue
        found.update(str(rel / name) for name in dirs + files)
    return found


def _send(server: RegistryProcess, method: str, path: str) -> int:
    """The raw path goes out as written: no client-side normalisation of dot segments."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        body = b"{}" if method in ("PUT", "PATCH") else None
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        status = connection.getresponse().status
    finally:
        connection.close()
    return status


def _paths(
    name: str, tag: str = "latest", digest: str = DIGEST, upload: str = UPLOAD
) -> Iterator[tuple[str, str]]:
    yield "GET", f"/v2/{name}/tags/list"
    yield "PUT", f"/v2/{name}/manifests/{tag}"
    yield "GET", f"/v2/{name}/manifests/{tag}"
    yield "DELETE", f"/v2/{name}/manifests/{digest}"
    yield "POST", f"/v2/{name}/blobs/uploads/"
    yield "GET", f"/v2/{name}/blobs/{digest}"
    yield "DELETE", f"/v2/{name}/blobs/{digest}"
    yield "PATCH", f"/v2/{name}/blobs/uploads/{upload}"
    yield "PUT", f"/v2/{name}/blobs/uploads/{upload}?digest={DIGEST}"
    yield "DELETE", f"/v2/{name}/blobs/uploads/{upload}"
    yield "GET", f"/v2/{name}/referrers/{digest}"


def _attempts() -> list[tuple[str, str]]:
    attempts = [pair for name in NAMES for pair in _paths(name)]
    attempts += [
        pair for tag in TAGS for pair in _paths("ok/app", tag=tag) if "manifests" in pair[1]
    ]
    attempts += [pair for d in DIGESTS for pair in _paths("ok/app", digest=d) if d in pair[1]]
    attempts += [pair for u in UPLOADS for pair in _paths("ok/app", upload=u) if u in pair[1]]
    return attempts


def test_every_traversal_attempt_is_refused_and_nothing_leaves_storage(
    registry: RegistryProcess,
) -> None:
    before = _outside(registry)
    answers = {(method, path): _send(registry, method, path) for method, path in _attempts()}
    for _ in answers:
        count("traversal")

    wrong = {attempt: status for attempt, status in answers.items() if status not in REFUSED}
    assert not wrong, wrong
    assert _outside(registry) == before
    assert (registry.workdir / "outside" / "sentinel").read_text() == "untouched"
    assert not (registry.storage_root / "docker" / "registry" / "v2" / "repositories").exists()


segments = st.lists(
    st.sampled_from([*CLIMBS, "a", "b0", "%2f", "/", "x.y", "_", "-"]), min_size=1, max_size=6
).map("".join)


@settings(settings.get_profile("fuzz"), max_examples=60)
@given(segments, st.sampled_from(["GET", "PUT", "POST", "PATCH", "DELETE"]))
def test_generated_traversals_are_refused(
    registry: RegistryProcess, part: str, method: str
) -> None:
    count("traversal")
    name = f"{part}/outside" if ".." in part or "%2e" in part.lower() else f"{part}/../../outside"
    before = _outside(registry)
    paths = [p for m, p in _paths(name, tag=part, upload=part) if m == method]
    for path in paths:
        assert _send(registry, method, path) in REFUSED, path
    assert _outside(registry) == before
