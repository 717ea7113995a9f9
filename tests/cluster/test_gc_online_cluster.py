"""Online GC in a cluster: two registry processes, one real worker, one storage, database
(SQLite, then PostgreSQL) and broker. Images are pushed and their repositories deleted; while
a GC that lasts seconds runs (in the default mode, `online`), skopeo (no retries) re-pushes
exactly those images into new repositories, mounts layers across repositories, pushes an
image onto links whose manifest was deleted (HEAD says "exists") and pushes new images,
through both instances, and pulls an older image. The GC succeeds, frees the garbage nobody
used again, no push is refused, and every image pulls completely afterwards (skopeo checks
every digest) from both instances. A worker SIGKILLed mid-sweep: pushes go on, the
redelivered task's run finishes the work."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from cli.status import render
from testbed.synthetic_tree import plant_garbage
from testbed.task_platform import TaskPlatform, postgres_database
from tests.cluster.test_gc_cluster import CLUSTER_CONFIG, Cluster, blob_exists
from tests.support.clients import ClientError, Skopeo
from tests.support.images import OciLayout, read_dir_copy

pytestmark = pytest.mark.e2e
GARBAGE = 15_000  # unreferenced blobs: enough for a GC of several seconds


@pytest.fixture(params=["sqlite", "postgresql"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        config = dict(CLUSTER_CONFIG)
        if request.param == "postgresql":
            config["database"] = {"url": stack.enter_context(postgres_database())}
        platform = TaskPlatform(tmp_path / "platform", config=config)
        stack.callback(platform.stop)
        built = Cluster(platform)
        platform.start("registry", "worker", "beat")  # beat's reaper requeues a dead worker's task
        built.start_second_registry()
        yield built


class Clients:
    """Runs skopeo jobs on a few threads; records failures and which ended during the GC."""

    def __init__(self, gc_running: Callable[[], bool]) -> None:
        self.gc_running = gc_running
        self.errors: list[str] = []
        self.during_gc = 0
        self._lock = threading.Lock()

    def run(self, jobs: list[tuple[str, Callable[[], None]]]) -> None:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(self._one, jobs))

    def _one(self, job: tuple[str, Callable[[], None]]) -> None:
        name, body = job
        try:
            body()
        except ClientError as exc:
            with self._lock:
                self.errors.append(f"{name}: {exc}")
        if self.gc_running():
            with self._lock:
                self.during_gc += 1


def test_online_gc_keeps_every_push_through_both_instances(
    cluster: Cluster, tmp_path: Path
) -> None:
    platform, storage = cluster.platform, cluster.platform.workdir / "storage"
    hosts = [url.removeprefix("http://") for url in cluster.urls]
    images = OciLayout(tmp_path / "images")
    base = images.write_image("base", [4_000, 70_000], seed=1)
    doomed = [images.write_image(f"doomed{i}", [3_000 + i, 50_000], seed=10 + i) for i in range(4)]
    dropped = images.write_image("dropped", [2_500, 40_000], seed=30)
    dangling = images.write_image("dangling", [2_600, 30_000], seed=31)
    fresh = [images.write_image(f"fresh{i}", [1_500, 20_000], seed=40 + i) for i in range(4)]
    skopeo = Skopeo(tmp_path / "skopeo")

    def push(name: str, host: str, ref: str) -> Callable[[], None]:
        return lambda: skopeo.copy(f"oci:{images.path}:{name}", f"docker://{host}/{ref}")

    push("base", hosts[0], "keep/base:v1")()
    for i in range(4):
        push(f"doomed{i}", hosts[i % 2], f"doomed/app{i}:v1")()
    push("dropped", hosts[0], "dropped/app:v1")()
    push("dangling", hosts[1], "dangling/app:v1")()
    skopeo.delete(f"docker://{hosts[1]}/dangling/app:v1")  # the manifest goes, links stay
    api = platform.api()
    for name in [*(f"doomed/app{i}" for i in range(4)), "dropped/app"]:
        assert api.delete(f"/api/v1/repositories/{name}").status_code == 202
    garbage = plant_garbage(storage, GARBAGE)

    task = platform.enqueue("gc", grace_period="0s")  # the default mode: online
    platform.wait_task(task["id"], lambda t: t["state"] == "running", 60)
    clients = Clients(lambda: platform.task(task["id"])["state"] == "running")
    pushed: dict[str, str] = {"keep/base:v1": base.manifest.digest}
    jobs: list[tuple[str, Callable[[], None]]] = []
    for i, image in enumerate(doomed):
        pushed[f"reborn/app{i}:v1"] = image.manifest.digest
        jobs.append((f"re-push {i}", push(f"doomed{i}", hosts[(i + 1) % 2], f"reborn/app{i}:v1")))
    pushed["dangling/app:v2"] = dangling.manifest.digest
    jobs.append(("onto links", push("dangling", hosts[0], "dangling/app:v2")))
    for i, host in enumerate(hosts):
        ref = f"mounted/base{i}:v1"
        pushed[ref] = base.manifest.digest
        mount = f"docker://{hosts[1 - i]}/keep/base:v1", f"docker://{host}/{ref}"
        jobs.append((f"mount {i}", lambda m=mount: skopeo.copy(*m)))
    for i, image in enumerate(fresh):
        pushed[f"fresh/app{i}:v1"] = image.manifest.digest
        jobs.append((f"new {i}", push(f"fresh{i}", hosts[i % 2], f"fresh/app{i}:v1")))
    for i, host in enumerate(hosts):
        into = tmp_path / f"pull-during-{i}"
        jobs.append((f"pull {i}", lambda h=host, d=into: _pull(skopeo, h, "keep/base:v1", d)))
    clients.run(jobs)
    done = platform.wait_finished(task["id"], timeout=300)

    assert done["state"] == "succeeded", platform.logs()
    assert clients.errors == [], clients.errors
    assert clients.during_gc >= len(jobs) // 2, f"only {clients.during_gc} jobs ran during GC"
    result = done["result"]
    print(  # figures for docs/gc.md
        f"gc {result['seconds']}s, {result['blobs_deleted']} blobs deleted, kept by writes "
        f"{result['kept_by_writes']}, {clients.during_gc}/{len(jobs)} client jobs ended during it"
    )
    assert "kept_by_writes" in result
    assert not any(blob_exists(storage, digest) for digest in garbage)
    assert not any(blob_exists(storage, layer.digest) for layer in dropped.layers)
    for number, host in enumerate(hosts):
        for ref, digest in pushed.items():
            into = tmp_path / f"pull-{number}-{ref.replace('/', '_').replace(':', '_')}"
            assert _pull(skopeo, host, ref, into) == digest, ref
    log = api.get(f"/api/v1/tasks/{task['id']}/log").text
    assert "instances serving" in log and "online GC run" in log, log
    # What operators see: the run's phase and what writes kept, in status and progress.
    kept = result["kept_by_writes"]
    assert done["progress"]["note"] == f"{kept} kept because writes used them", done["progress"]
    answer = api.get("/api/v1/status").json()
    gc_run = answer["gc_run"]
    shown = (gc_run["task_id"], gc_run["phase"], gc_run["kept_by_writes"])
    assert shown == (task["id"], "done", kept), gc_run
    assert gc_run["finished_at"] is not None
    assert any("online GC run" in line and f"{kept} item" in line for line in render(answer))


def _pull(skopeo: Skopeo, host: str, ref: str, into: Path) -> str:
    """The digest of the manifest pulled; every blob that came is re-hashed."""
    started = time.monotonic()
    skopeo.copy(f"docker://{host}/{ref}", f"dir:{into}")
    pulled = read_dir_copy(into)
    assert time.monotonic() - started < 120
    return pulled.digest


def test_worker_killed_mid_sweep_pushes_go_on_and_the_next_run_finishes(
    cluster: Cluster, tmp_path: Path
) -> None:
    platform, storage = cluster.platform, cluster.platform.workdir / "storage"
    hosts = [url.removeprefix("http://") for url in cluster.urls]
    images = OciLayout(tmp_path / "images")
    kept = images.write_image("kept", [2_000, 30_000], seed=50)
    later = [images.write_image(f"later{i}", [1_000, 10_000], seed=60 + i) for i in range(2)]
    skopeo = Skopeo(tmp_path / "skopeo")
    skopeo.copy(f"oci:{images.path}:kept", f"docker://{hosts[0]}/keep/app:v1")
    garbage = plant_garbage(storage, 5_000)
    task = platform.enqueue("gc", grace_period="0s")
    platform.wait_task(
        task["id"], lambda t: (t.get("progress") or {}).get("phase") == "delete_blobs", 120
    )
    next(c for c in platform.components if c.name == "worker").kill()
    # The dead run's lease and deleting marks are still live: pushes are taken all the same.
    for i, host in enumerate(hosts):
        skopeo.copy(f"oci:{images.path}:later{i}", f"docker://{host}/later/app{i}:v1")
    platform.start_worker()
    done = platform.wait_finished(task["id"], timeout=180)

    assert done["state"] == "succeeded", platform.logs()
    assert done["attempts"] >= 2
    assert not any(blob_exists(storage, digest) for digest in garbage)
    expected = {"keep/app:v1": kept.manifest.digest}
    expected.update({f"later/app{i}:v1": image.manifest.digest for i, image in enumerate(later)})
    for number, host in enumerate(hosts):
        for ref, digest in expected.items():
            into = tmp_path / f"pull-{number}-{ref.replace('/', '_').replace(':', '_')}"
            assert _pull(skopeo, host, ref, into) == digest, ref
    gc_run = platform.api().get("/api/v1/status").json()["gc_run"]
    assert (gc_run["task_id"], gc_run["phase"]) == (task["id"], "done")
