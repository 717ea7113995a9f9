"""The manifest content model on a real filesystem driver: push, read, negotiate, delete."""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from registry import layout
from registry.content import manifests, referrers, tags
from registry.content.manifest_cache import ManifestCache, StoredManifest
from registry.content.manifest_format import parse_manifest
from registry.content.negotiation import negotiate
from registry.errors import (
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestTooLarge,
    ManifestUnknown,
    NameUnknown,
    TagInvalid,
)
from registry.storage import PathNotFoundError, StorageDriver
from registry.storage.base import CheckedDriver
from tests.support.registry_content import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    artifact_manifest,
    descriptor,
    encode,
    filesystem_driver,
    image_manifest,
    sha256,
)

REPO = "team/app"


@pytest.fixture()
def driver(tmp_path: Path) -> StorageDriver:
    return filesystem_driver(tmp_path)


def put(driver: StorageDriver, reference: str, document: dict[str, Any]) -> tuple[str, bytes]:
    body = encode(document)
    pushed = manifests.put_manifest(driver, REPO, reference, body, document.get("mediaType"))
    return pushed.digest, body


def read(driver: StorageDriver, reference: str, cache: ManifestCache | None = None) -> bytes:
    digest = manifests.resolve(driver, REPO, reference)
    return manifests.load(driver, digest, cache).body


# --- push ------------------------------------------------------------------------------


def test_put_by_tag_writes_blob_revision_and_tag_links(driver: StorageDriver) -> None:
    digest, body = put(driver, "v1", image_manifest(driver, REPO))
    assert digest == sha256(body)
    assert driver.get_content(layout.blob_data(digest)) == body
    assert driver.get_content(layout.revision_link(REPO, digest)) == digest.encode()
    assert tags.tag_digest(driver, REPO, "v1") == digest
    assert driver.get_content(layout.tag_index_link(REPO, "v1", digest)) == digest.encode()


def test_put_by_sha512_digest_stores_under_that_digest(driver: StorageDriver) -> None:
    body = encode(image_manifest(driver, REPO))
    reference = "sha512:" + hashlib.sha512(body).hexdigest()
    pushed = manifests.put_manifest(driver, REPO, reference, body, OCI_MANIFEST)
    assert pushed.digest == reference
    assert read(driver, reference) == body


def test_put_checks_reference_size_and_digest_first(driver: StorageDriver) -> None:
    body = encode(image_manifest(driver, REPO))
    with pytest.raises(TagInvalid):
        manifests.put_manifest(driver, REPO, "-bad", body, OCI_MANIFEST)
    with pytest.raises(DigestInvalid):
        manifests.put_manifest(driver, REPO, sha256(b"other"), body, OCI_MANIFEST)
    with pytest.raises(ManifestTooLarge):
        manifests.put_manifest(driver, REPO, "big", b" " * (4 * 1024 * 1024 + 1), None)


def test_put_requires_blobs_linked_in_this_repository(driver: StorageDriver) -> None:
    document = image_manifest(driver, "other/repo")
    with pytest.raises(ManifestBlobUnknown) as raised:
        put(driver, "v1", document)
    assert raised.value.detail == {"digest": document["config"]["digest"]}
    with pytest.raises(PathNotFoundError):
        driver.list(layout.manifests_root(REPO))  # nothing was written


def test_put_records_referrers_of_a_subject(driver: StorageDriver) -> None:
    _, subject_body = put(driver, "base", image_manifest(driver, REPO))
    subject = descriptor(OCI_MANIFEST, subject_body)
    document = artifact_manifest(driver, REPO, "application/x.sbom", subject)
    body = encode(document)
    pushed = manifests.put_manifest(driver, REPO, "sbom", body, OCI_MANIFEST)
    assert pushed.subject == subject["digest"]
    assert referrers.referrer_digests(driver, REPO, subject["digest"]) == [pushed.digest]
    listed = referrers.list_referrers(driver, REPO, subject["digest"])
    assert listed == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": pushed.digest,
            "size": len(body),
            "artifactType": "application/x.sbom",
        }
    ]


def test_put_fills_the_cache(driver: StorageDriver) -> None:
    cache = ManifestCache()
    body = encode(image_manifest(driver, REPO))
    pushed = manifests.put_manifest(driver, REPO, "v1", body, OCI_MANIFEST, cache)
    assert cache.get(pushed.digest) == StoredManifest(pushed.digest, OCI_MANIFEST, body)


# --- format ----------------------------------------------------------------------------


def test_parse_lists_config_and_layers_but_not_foreign_layers(driver: StorageDriver) -> None:
    document = image_manifest(driver, REPO, layers=2)
    foreign = descriptor("application/vnd.oci.image.layer.nondistributable.v1.tar", b"f")
    document["layers"].append({**foreign, "urls": ["https://example.com/f"]})
    parsed = parse_manifest(encode(document), OCI_MANIFEST)
    expected = [document["config"]["digest"], *(d["digest"] for d in document["layers"][:2])]
    assert list(parsed.blobs) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (f"{OCI_MANIFEST}; charset=utf-8", OCI_MANIFEST),
        ("application/json", DOCKER_MANIFEST),
        (None, DOCKER_MANIFEST),
        (DOCKER_MANIFEST, DOCKER_MANIFEST),
    ],
)
def test_content_type_decides_unless_generic(
    driver: StorageDriver, content_type: str | None, expected: str
) -> None:
    media_type = OCI_MANIFEST if expected == OCI_MANIFEST else DOCKER_MANIFEST
    document = image_manifest(driver, REPO, media_type)
    assert parse_manifest(encode(document), content_type).media_type == expected


@pytest.mark.parametrize(
    ("document", "content_type"),
    [
        ({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST}, OCI_MANIFEST),  # mismatch
        ({"schemaVersion": 2, "config": {}, "layers": []}, DOCKER_MANIFEST),  # no mediaType
        ({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": {}}, OCI_INDEX),
        ({"schemaVersion": True, "mediaType": OCI_INDEX, "manifests": []}, OCI_INDEX),
        ({"schemaVersion": 2, "manifests": [], "layers": []}, OCI_INDEX),
        ({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}, "application/x-other"),
        ({"schemaVersion": 1, "name": "a", "tag": "b", "fsLayers": [], "history": []}, None),
    ],
)
def test_malformed_documents_are_manifest_invalid(
    document: dict[str, Any], content_type: str | None
) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(json.dumps(document).encode(), content_type)


def test_index_children_must_be_manifests_of_the_repository(driver: StorageDriver) -> None:
    child = encode(image_manifest(driver, REPO))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    index["manifests"] = [descriptor(OCI_MANIFEST, child)]
    with pytest.raises(ManifestBlobUnknown):
        put(driver, "multi", index)
    manifests.put_manifest(driver, REPO, sha256(child), child, OCI_MANIFEST)
    put(driver, "multi", index)


# --- read ------------------------------------------------------------------------------


def test_resolve_distinguishes_unknown_manifest_from_unknown_repository(
    driver: StorageDriver,
) -> None:
    with pytest.raises(NameUnknown):
        manifests.resolve(driver, REPO, "v1")
    put(driver, "v1", image_manifest(driver, REPO))
    with pytest.raises(ManifestUnknown):
        manifests.resolve(driver, REPO, "v2")
    with pytest.raises(ManifestUnknown):
        manifests.resolve(driver, REPO, sha256(b"absent"))


@pytest.mark.parametrize("reference", [".INVALID_MANIFEST_NAME", "..", "-x", "a" * 129])
def test_a_tag_outside_the_grammar_is_unknown_to_resolve_and_delete(
    driver: StorageDriver, reference: str
) -> None:
    put(driver, "v1", image_manifest(driver, REPO))
    with pytest.raises(ManifestUnknown):
        manifests.resolve(driver, REPO, reference)
    with pytest.raises(ManifestUnknown):
        manifests.delete_manifest(driver, REPO, reference)
    with pytest.raises(DigestInvalid):
        manifests.resolve(driver, REPO, "sha256:nothex")
    assert tags.all_tags(driver, REPO) == ["v1"]


def test_load_serves_cached_bytes_without_reading_storage(driver: StorageDriver) -> None:
    cache = ManifestCache()
    digest, body = put(driver, "v1", image_manifest(driver, REPO))
    assert read(driver, "v1", cache) == body
    driver.delete(layout.blob_data(digest))  # only the cache can answer now
    assert manifests.load(driver, digest, cache).body == body
    with pytest.raises(ManifestUnknown):
        manifests.load(driver, digest)


def flip_a_bit(driver: StorageDriver, digest: str) -> bytes:
    """Bit rot: the same length, one bit changed, still valid JSON (a space becomes a tab)."""
    body = driver.get_content(layout.blob_data(digest))
    at = body.index(b" ")
    driver.put_content(layout.blob_data(digest), body[:at] + b"\t" + body[at + 1 :])
    return body


def test_a_stored_manifest_that_does_not_hash_to_its_digest_is_never_served(
    driver: StorageDriver, caplog: pytest.LogCaptureFixture
) -> None:
    digest, _ = put(driver, "v1", image_manifest(driver, REPO))
    flip_a_bit(driver, digest)
    cache = ManifestCache()

    for _ in range(3):
        with pytest.raises(ManifestUnknown, match="damaged in storage") as refused:
            read(driver, "v1", cache)
        assert refused.value.status == 404 and refused.value.detail == {"digest": digest}

    assert len(cache) == 0
    [logged] = [r for r in caplog.records if digest in r.getMessage()]  # once, not per GET
    assert "content hashes to sha256:" in logged.getMessage()
    assert "hth-ctl verify-storage --repair" in logged.getMessage()


def test_a_stored_manifest_that_is_not_json_is_manifest_unknown(driver: StorageDriver) -> None:
    body = b"\x00 not json"
    digest = sha256(body)
    driver.put_content(layout.blob_data(digest), body)

    with pytest.raises(ManifestUnknown, match="cannot read"):
        manifests.load(driver, digest)


class BadSector(CheckedDriver):
    """The real driver, except that reading blob data fails as a failing disk does (EIO):
    a fault no test can get from a healthy disk."""

    def get_content(self, path: str) -> bytes:
        if path.startswith(layout.BLOBS):
            raise OSError(errno.EIO, "Input/output error")
        return super().get_content(path)


def test_a_stored_manifest_the_disk_cannot_read_is_manifest_unknown(driver: StorageDriver) -> None:
    digest, _ = put(driver, "v1", image_manifest(driver, REPO))

    with pytest.raises(ManifestUnknown, match="damaged in storage"):
        read(BadSector(driver), "v1", ManifestCache())


def test_a_push_of_the_genuine_manifest_replaces_a_damaged_copy_of_the_same_size(
    driver: StorageDriver,
) -> None:
    document = image_manifest(driver, REPO)
    digest, body = put(driver, "v1", document)
    flip_a_bit(driver, digest)

    put(driver, "v1", document)

    assert driver.get_content(layout.blob_data(digest)) == body
    assert read(driver, "v1", ManifestCache()) == body


def test_cache_evicts_least_recently_used_beyond_its_budget() -> None:
    cache = ManifestCache(budget_bytes=800)
    for i in range(10):
        cache.put(StoredManifest(f"sha256:{i}", OCI_MANIFEST, b"x" * 100))
    assert len(cache) == 8
    assert cache.get("sha256:0") is None
    assert cache.get("sha256:9") is not None
    cache.put(StoredManifest("sha256:huge", OCI_MANIFEST, b"x" * 101))
    assert cache.get("sha256:huge") is None  # over an eighth of the budget


def test_media_type_of_bare_oci_documents_is_told_by_their_fields(driver: StorageDriver) -> None:
    document = image_manifest(driver, REPO)
    del document["mediaType"]
    pushed = manifests.put_manifest(driver, REPO, "bare", encode(document), OCI_MANIFEST)
    assert manifests.load(driver, pushed.digest).media_type == OCI_MANIFEST
    index = {"schemaVersion": 2, "manifests": []}
    pushed = manifests.put_manifest(driver, REPO, "bare-index", encode(index), OCI_INDEX)
    assert manifests.load(driver, pushed.digest).media_type == OCI_INDEX


# --- negotiation -----------------------------------------------------------------------


def push_list(driver: StorageDriver, arches: tuple[str, ...]) -> dict[str, str]:
    digests = {}
    entries = []
    for arch in arches:
        digest, body = put(driver, f"c-{arch}", image_manifest(driver, REPO, DOCKER_MANIFEST))
        digests[arch] = digest
        platform = {"architecture": arch, "os": "linux"}
        entries.append(descriptor(DOCKER_MANIFEST, body, platform=platform))
    digests["list"], _ = put(
        driver, "multi", {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": entries}
    )
    return digests


def negotiated(driver: StorageDriver, digest: str, accepted: set[str] | None, by_tag: bool) -> str:
    manifest = manifests.load(driver, digest)
    types = frozenset(accepted) if accepted is not None else None
    return negotiate(driver, REPO, manifest, types, by_tag).digest


def test_negotiation_serves_what_the_client_accepts(driver: StorageDriver) -> None:
    digests = push_list(driver, ("arm64", "amd64"))
    assert negotiated(driver, digests["list"], None, True) == digests["list"]
    assert negotiated(driver, digests["list"], {DOCKER_LIST}, True) == digests["list"]
    assert negotiated(driver, digests["list"], {OCI_INDEX}, True) == digests["list"]
    assert negotiated(driver, digests["list"], {DOCKER_MANIFEST}, True) == digests["amd64"]
    assert negotiated(driver, digests["list"], {DOCKER_MANIFEST}, False) == digests["list"]


def test_negotiation_refuses_oci_content_to_clients_that_do_not_accept_it(
    driver: StorageDriver,
) -> None:
    digest, _ = put(driver, "oci", image_manifest(driver, REPO))
    with pytest.raises(ManifestUnknown):
        negotiated(driver, digest, {DOCKER_MANIFEST}, True)
    docker, _ = put(driver, "docker", image_manifest(driver, REPO, DOCKER_MANIFEST))
    assert negotiated(driver, docker, {OCI_MANIFEST}, True) == docker  # never rewritten


def test_negotiation_without_a_linux_amd64_child_is_manifest_unknown(
    driver: StorageDriver,
) -> None:
    digests = push_list(driver, ("arm64",))
    with pytest.raises(ManifestUnknown):
        negotiated(driver, digests["list"], {DOCKER_MANIFEST}, True)


# --- delete ----------------------------------------------------------------------------


def test_delete_by_digest_untags_only_tags_currently_on_it(driver: StorageDriver) -> None:
    old, old_body = put(driver, "moving", image_manifest(driver, REPO))
    manifests.put_manifest(driver, REPO, "pinned", old_body, OCI_MANIFEST)
    new, _ = put(driver, "moving", image_manifest(driver, REPO))
    manifests.delete_manifest(driver, REPO, old)
    assert tags.all_tags(driver, REPO) == ["moving"]
    assert tags.tag_digest(driver, REPO, "moving") == new
    with pytest.raises(PathNotFoundError):
        driver.stat(layout.revision_link(REPO, old))
    assert driver.get_content(layout.blob_data(old)) == old_body


def test_delete_by_tag_keeps_the_revision(driver: StorageDriver) -> None:
    digest, body = put(driver, "v1", image_manifest(driver, REPO))
    manifests.delete_manifest(driver, REPO, "v1")
    assert tags.all_tags(driver, REPO) == []
    assert read(driver, digest) == body
    with pytest.raises(ManifestUnknown):
        manifests.delete_manifest(driver, REPO, "v1")


def test_delete_of_a_referrer_unindexes_it(driver: StorageDriver) -> None:
    subject = descriptor(OCI_MANIFEST, b"subject")
    digest, _ = put(driver, "sig", artifact_manifest(driver, REPO, "application/x.sig", subject))
    manifests.delete_manifest(driver, REPO, digest)
    assert referrers.referrer_digests(driver, REPO, subject["digest"]) == []
    with pytest.raises(ManifestUnknown):
        manifests.delete_manifest(driver, REPO, digest)
