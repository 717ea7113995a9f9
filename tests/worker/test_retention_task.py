"""`retention` run by a real worker next to a real registry (filesystem storage): 50 tags
pushed over HTTP and with skopeo at known times (their tag links dated back), each rule and
their union, dry run against real run, an index keeping its children, referrers kept with
their subjects, `gc_after` freeing the space, and a second run deleting nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from registry import layout
from testbed.pusher import OCI_MANIFEST, push_image
from testbed.task_platform import RedisNamespace, TaskPlatform
from tests.maintenance.trees import Tree
from tests.support.clients import Skopeo
from tests.support.images import OciLayout
from tests.support.registry_content import (
    artifact_manifest,
    encode,
    image_manifest,
    push_ok,
    sha256,
)

pytestmark = pytest.mark.integration

POLICIES = "/api/v1/retention-policies"
SEMVER = [f"v1.{minor}.0" for minor in range(5)]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TaskPlatform]:
    namespace = RedisNamespace()
    platform = TaskPlatform(
        tmp_path_factory.mktemp("retention"),
        config={
            "queue": {"broker_url": namespace.url, "key_prefix": namespace.prefix},
            "docker_registry": {"http": {"workers": 1}, "gc": {"grace_period": "0s"}},
        },
    )
    try:
        platform.start("registry", "worker")
        yield platform
    finally:
        platform.stop()
        namespace.cleanup()


def tree_of(platform: TaskPlatform) -> Tree:
    return Tree(platform.workdir / "storage")


def date_back(platform: TaskPlatform, repository: str, ages: dict[str, float]) -> None:
    """Set each tag's push time (its current/link's mtime) `ages[tag]` days back."""
    tree = tree_of(platform)
    for tag, days in ages.items():
        tree.age_path(layout.tag_current_link(repository, tag), timedelta(days=days))


def add_policy(platform: TaskPlatform, **fields: Any) -> dict[str, Any]:
    response = platform.api().post(POLICIES, json=fields)
    assert response.status_code == 201, response.text
    policy: dict[str, Any] = response.json()
    return policy


def run_policy(platform: TaskPlatform, name: str, dry_run: bool) -> dict[str, Any]:
    response = platform.api().post(f"{POLICIES}/{name}/run", json={"dry_run": dry_run})
    assert response.status_code == 202, response.text
    task = platform.wait_finished(response.json()["id"], timeout=120)
    assert task["state"] == "succeeded", task
    assert task["kind"] == "retention" and task["params"] == {"policy": name, "dry_run": dry_run}
    result: dict[str, Any] = task["result"]
    return result


def tags_of(http: httpx.Client, repository: str) -> list[str]:
    response = http.get(f"/v2/{repository}/tags/list")
    assert response.status_code == 200, response.text
    return sorted(response.json()["tags"] or [])


def has_manifest(http: httpx.Client, repository: str, digest: str) -> bool:
    return http.head(f"/v2/{repository}/manifests/{digest}").status_code == 200


def skopeo_push(platform: TaskPlatform, source: Path, tag: str, target: str, *extra: str) -> None:
    host = platform.url.removeprefix("http://")
    Skopeo(platform.workdir / "skopeo").copy(
        f"oci:{source}:{tag}", f"docker://{host}/{target}", *extra
    )


@pytest.fixture(scope="module")
def fifty(platform: TaskPlatform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    """rules/app: 45 `ci-N` tags over HTTP and 5 semver tags with skopeo; tag i was pushed
    i days and 12 hours ago (ci-0 newest), the semver tags 60 to 64 days ago."""
    source = OciLayout(tmp_path_factory.mktemp("semver"))
    for seed, tag in enumerate(SEMVER):
        source.write_image(tag, [512], seed=seed)
        skopeo_push(platform, source.path, tag, f"rules/app:{tag}")
    for number in range(45):
        push_image(platform.api(), "rules/app", f"ci-{number}", layer_size=256)
    ages = {f"ci-{n}": n + 0.5 for n in range(45)}
    ages |= {tag: 60 + i + 0.5 for i, tag in enumerate(SEMVER)}
    date_back(platform, "rules/app", ages)
    return ages


def deleted_tags(result: dict[str, Any], repository: str) -> set[str]:
    return set(result["deleted"].get(repository, {}).get("tags", []))


def test_each_rule_then_their_union(platform: TaskPlatform, fifty: dict[str, float]) -> None:
    http = platform.api()
    every = set(fifty)
    assert len(every) == 50 and set(tags_of(http, "rules/app")) == every
    newest = sorted(every, key=lambda tag: fifty[tag])
    add_policy(platform, name="last10", repositories="rules/*", keep_last=10)
    add_policy(platform, name="within14", repositories="rules/**", keep_within="14d")
    add_policy(platform, name="semver", repositories="rules/app", keep_tags=r"^v\d+")
    expected = {
        "last10": every - set(newest[:10]),
        "within14": {tag for tag, days in fifty.items() if days > 14},
        "semver": every - set(SEMVER),
    }
    for name, deleted in expected.items():
        result = run_policy(platform, name, dry_run=True)
        assert deleted_tags(result, "rules/app") == deleted, name
        assert result["tags_kept"] == 50 - len(deleted)
    assert set(tags_of(http, "rules/app")) == every  # dry runs changed nothing

    add_policy(
        platform, name="union", repositories="rules/**", keep_last=3, keep_within=1209600,
        keep_tags=r"^v\d+\.\d+\.\d+$",
    )  # fmt: skip
    kept = set(newest[:3]) | {t for t, d in fifty.items() if d <= 14} | set(SEMVER)
    dry = run_policy(platform, "union", dry_run=True)
    real = run_policy(platform, "union", dry_run=False)
    assert deleted_tags(dry, "rules/app") == deleted_tags(real, "rules/app") == every - kept
    assert set(tags_of(http, "rules/app")) == kept
    audit = http.get("/api/v1/audit", params={"action": "retention.tag_delete", "limit": 500})
    targets = {event["target"] for event in audit.json()["items"]}
    assert targets == {f"rules/app:{tag}" for tag in every - kept}

    again = run_policy(platform, "union", dry_run=False)
    assert (again["tags_deleted"], again["manifests_deleted"], again["deleted"]) == (0, 0, {})


def test_untagged_manifests_go_except_what_kept_ones_hold(
    platform: TaskPlatform, tmp_path: Path
) -> None:
    http, tree = platform.api(), tree_of(platform)
    source = OciLayout(tmp_path / "multi")
    multi = source.write_index("v2", [("linux", "amd64"), ("linux", "arm64")], [256])
    skopeo_push(platform, source.path, "v2", "graph/app:v2", "--all")
    children = [image.manifest.digest for image in multi.images]
    signature = "application/vnd.example.signature"

    def refer(subject: str) -> str:
        """Push (by digest, untagged) a signature whose subject is `subject`."""
        headers = {"Accept": OCI_MANIFEST}
        size = len(http.get(f"/v2/graph/app/manifests/{subject}", headers=headers).content)
        descriptor = {"mediaType": OCI_MANIFEST, "digest": subject, "size": size}
        document = artifact_manifest(tree.driver, "graph/app", signature, descriptor)
        digest, _ = push_ok(http, "graph/app", sha256(encode(document)), document)
        return digest

    child_signature = refer(children[0])
    old = push_ok(http, "graph/app", "ci-old", image_manifest(tree.driver, "graph/app"))[0]
    old_signature = refer(old)
    loose = push_ok(http, "graph/app", "loose", image_manifest(tree.driver, "graph/app"))[0]
    http.delete("/v2/graph/app/manifests/loose")  # the tag only: `loose` is untagged now
    sbom_subject = push_ok(http, "graph/app", "tmp", image_manifest(tree.driver, "graph/app"))[0]
    http.delete("/v2/graph/app/manifests/tmp")
    sbom = refer(sbom_subject)
    push_ok(http, "graph/app", "v-sbom", http.get(f"/v2/graph/app/manifests/{sbom}").content)
    date_back(platform, "graph/app", {"ci-old": 30})

    add_policy(platform, name="graph", repositories="graph/**", keep_tags="^v",
               delete_untagged=True)  # fmt: skip
    result = run_policy(platform, "graph", dry_run=False)
    gone = result["deleted"]["graph/app"]
    assert gone["tags"] == ["ci-old"]
    assert set(gone["manifests"]) == {old, old_signature, loose}
    assert gone["manifests"].index(old_signature) < gone["manifests"].index(old)
    for digest in (multi.index.digest, *children, child_signature, sbom, sbom_subject):
        assert has_manifest(http, "graph/app", digest), digest
    for digest in (old, old_signature, loose):
        assert not has_manifest(http, "graph/app", digest), digest
    audit = http.get("/api/v1/audit", params={"action": "retention.", "target": "graph/"})
    events = {(e["action"], e["target"], e["actor"]) for e in audit.json()["items"]}
    assert events == {
        ("retention.tag_delete", "graph/app:ci-old", "retention:graph"),
        *(
            ("retention.manifest_delete", f"graph/app@{d}", "retention:graph")
            for d in gone["manifests"]
        ),
    }
    referrers = http.get(f"/v2/graph/app/referrers/{children[0]}").json()["manifests"]
    assert [r["digest"] for r in referrers] == [child_signature]
    assert run_policy(platform, "graph", dry_run=False)["deleted"] == {}


def test_a_protected_tag_is_never_deleted(platform: TaskPlatform) -> None:
    """An immutable-tag rule (docs/tag-protection.md) keeps tags no keep-rule keeps."""
    http = platform.api()
    for tag in ("release-1", "release-2", "ci-1", "ci-2"):
        push_image(http, "guarded/app", tag, layer_size=256)
    rule = {"name": "releases", "repositories": "guarded/**", "tags": "release-.*"}
    assert http.post("/api/v1/tag-protections", json=rule).status_code == 201
    add_policy(platform, name="guarded", repositories="guarded/app", keep_last=1,
               delete_untagged=True)  # fmt: skip
    date_back(platform, "guarded/app", {"release-1": 4, "release-2": 3, "ci-1": 2})
    result = run_policy(platform, "guarded", dry_run=False)
    assert deleted_tags(result, "guarded/app") == {"ci-1"}
    assert tags_of(http, "guarded/app") == ["ci-2", "release-1", "release-2"]


def test_gc_after_frees_the_space(platform: TaskPlatform) -> None:
    http = platform.api()
    for number in range(3):
        push_image(http, "gc/app", f"build-{number}", layer_size=50_000)
    date_back(platform, "gc/app", {"build-0": 3, "build-1": 2})
    add_policy(platform, name="gc", repositories="gc/app", keep_last=1, delete_untagged=True,
               gc_after=True)  # fmt: skip
    dry = run_policy(platform, "gc", dry_run=True)
    assert dry["gc_task"] is None
    result = run_policy(platform, "gc", dry_run=False)
    assert deleted_tags(result, "gc/app") == {"build-0", "build-1"}
    assert len(result["deleted"]["gc/app"]["manifests"]) == 2
    gc = platform.wait_finished(result["gc_task"], timeout=120)
    assert gc["state"] == "succeeded" and gc["kind"] == "gc", gc
    assert gc["result"]["bytes_freed"] > 100_000
    assert tags_of(http, "gc/app") == ["build-2"]
