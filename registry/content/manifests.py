"""Manifests of a repository: push, read and delete them in Distribution's layout.

A manifest's bytes are stored verbatim as a blob (`blobs/<alg>/<xx>/<hex>/data`), linked into
the repository by `_manifests/revisions/<alg>/<hex>/link`; tags point at revisions. Its
digest covers exactly the bytes pushed, Docker schema 1 included: schema 1 is accepted,
stored and served verbatim for old clients, its signatures unchecked (Distribution would
digest only the JWS payload; we never alter or split what was pushed).

Reading by tag costs one link read plus, on a cache miss, one blob read; the media type is
parsed once per digest and then cached with the bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from registry import layout
from registry.content import referrers
from registry.content.gc_guard import NO_GUARD, GCGuard, repository_key
from registry.content.links import blob_size, linked_blob_size, read_link, write_link
from registry.content.manifest_cache import ManifestCache, StoredManifest
from registry.content.manifest_format import ParsedManifest, parse_manifest
from registry.content.mediatypes import stored_media_type
from registry.content.names import is_digest, is_tag, validate_digest, validate_tag
from registry.content.repositories import repository_exists
from registry.content.tag_protection import TagGuard, TagProtected, TagProtection
from registry.content.tags import set_tag, tag_digest, tags_pointing_to, untag
from registry.errors import (
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestTooLarge,
    ManifestUnknown,
    NameUnknown,
    RegistryError,
)
from registry.storage import PathNotFoundError, StorageDriver

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}

log = logging.getLogger("hth.content")


@dataclass(frozen=True)
class PushedManifest:
    digest: str
    media_type: str
    subject: str | None


def split_reference(reference: str) -> tuple[str | None, str | None]:
    """(tag, None) or (None, digest), validated: TAG_INVALID / DIGEST_INVALID otherwise."""
    if is_digest(reference):
        return None, validate_digest(reference)
    return validate_tag(reference), None


def digest_of(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{_HASHES[algorithm](body).hexdigest()}"


def put_manifest(
    driver: StorageDriver,
    name: str,
    reference: str,
    body: bytes,
    content_type: str | None,
    cache: ManifestCache | None = None,
    tag_guard: TagGuard | None = None,
    gc_guard: GCGuard = NO_GUARD,
) -> PushedManifest:
    """Validate and store a pushed manifest, then tag it when `reference` is a tag; a
    protected tag is only created, never moved (TagProtected, before anything is stored).
    The GC guard comes before any existence check: what an online GC deleted a moment ago
    is missing."""
    tag, expected = split_reference(reference)
    if len(body) > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge()
    digest = digest_of(body, expected.partition(":")[0] if expected else "sha256")
    if expected is not None and digest != expected:
        detail = {"expected": expected, "actual": digest}
        raise DigestInvalid("manifest digest does not match the reference", detail=detail)
    rule = tag_guard.protection().rule_for(name, tag) if tag_guard and tag else None
    if rule is not None and tag is not None:
        _refuse_move(driver, name, tag, digest, rule.name)
    parsed = parse_manifest(body, content_type)
    children = [child.digest for child in parsed.children]
    gc_guard.protect([digest, *parsed.blobs, *children, repository_key(name)])
    _verify_references(driver, name, parsed)
    _store_bytes(driver, digest, body)
    write_link(driver, layout.revision_link(name, digest), digest)
    if parsed.subject is not None:
        descriptor = referrers.referrer_descriptor(
            parsed.media_type, digest, len(body), parsed.artifact_type, parsed.annotations
        )
        referrers.add_referrer(driver, name, parsed.subject, descriptor)
    if tag is not None and rule is not None and tag_guard is not None:
        with tag_guard.serialized(name, tag, digest):  # check and link as one step, cluster-wide
            if not _refuse_move(driver, name, tag, digest, rule.name):
                set_tag(driver, name, tag, digest)
    elif tag is not None:
        set_tag(driver, name, tag, digest)
    if cache is not None:
        cache.put(StoredManifest(digest, parsed.media_type, body))
    return PushedManifest(digest, parsed.media_type, parsed.subject)


def _refuse_move(driver: StorageDriver, name: str, tag: str, digest: str, rule: str) -> bool:
    """Whether the protected tag already points at `digest`; TagProtected when it points
    elsewhere (absent: False, the push may create it)."""
    current = tag_digest(driver, name, tag)
    if current is not None and current != digest:
        raise TagProtected(name, tag, rule)
    return current is not None


def _store_bytes(driver: StorageDriver, digest: str, body: bytes) -> None:
    """Store the manifest's bytes as its blob unless exactly these bytes are there already;
    other bytes under its digest (a corrupt copy) are replaced, and the repair logged."""
    path = layout.blob_data(digest)
    size = blob_size(driver, digest)
    if size == len(body):
        try:
            if driver.get_content(path) == body:
                return
        except PathNotFoundError:
            size = None  # deleted meanwhile
    if size is not None:
        log.warning("manifest blob %s did not hold the pushed bytes: replaced", digest)
    driver.put_content(path, body)


def _verify_references(driver: StorageDriver, name: str, parsed: ParsedManifest) -> None:
    for digest in parsed.blobs:
        if linked_blob_size(driver, name, digest) is None:
            raise ManifestBlobUnknown(f"blob unknown to registry: {digest}", {"digest": digest})
    for child in parsed.children:
        digest = child.digest
        if not has_revision(driver, name, digest) or blob_size(driver, digest) is None:
            raise ManifestBlobUnknown(f"manifest unknown to registry: {digest}", {"digest": digest})


def has_revision(driver: StorageDriver, name: str, digest: str) -> bool:
    """Whether manifest `digest` is linked into repository `name`."""
    return read_link(driver, layout.revision_link(name, digest)) == digest


def read_reference(reference: str) -> tuple[str | None, str | None]:
    """split_reference for reads and deletes: a tag outside the grammar names nothing, so it
    is (None, None) and answers 404 like any unknown tag (the spec's pull section, and
    Distribution, whose routes never match it); a malformed digest stays DIGEST_INVALID."""
    if is_digest(reference):
        return None, validate_digest(reference)
    return (reference if is_tag(reference) else None), None


def resolve(driver: StorageDriver, name: str, reference: str) -> str:
    """The digest `reference` names in the repository, else MANIFEST_UNKNOWN / NAME_UNKNOWN."""
    tag, digest = read_reference(reference)
    if tag is not None:
        digest = tag_digest(driver, name, tag)
    elif digest is not None and not has_revision(driver, name, digest):
        digest = None
    if digest is None:
        raise unknown(driver, name, reference)
    return digest


def load(driver: StorageDriver, digest: str, cache: ManifestCache | None = None) -> StoredManifest:
    """The stored bytes of manifest `digest` with the media type they are served as.

    Bytes that do not hash to the digest (bit rot, an old registry's bad push) or do not
    parse are never served: MANIFEST_UNKNOWN, as if the manifest were missing. Only checked
    bytes enter the cache, so a cache hit needs no check (a miss: 2-11 us, docs/benchmarks.md).
    """
    cached = cache.get(digest) if cache is not None else None
    if cached is not None:
        return cached
    path = layout.blob_data(digest)
    try:
        body = driver.get_content(path)
    except PathNotFoundError:
        raise ManifestUnknown(f"manifest blob missing: {digest}", {"digest": digest}) from None
    except (TimeoutError, ConnectionError):
        raise  # the backend, not the data: 503 UNAVAILABLE like any storage outage
    except OSError as exc:  # a local read error (a bad sector): the data is damaged
        raise _unservable(digest, path, f"it cannot be read: {exc}", cache) from None
    actual = digest_of(body, digest.partition(":")[0])
    if actual != digest:
        problem = f"its content hashes to {actual} ({len(body)} bytes)"
        raise _unservable(digest, path, problem, cache)
    media_type = _media_type_of(body)
    if media_type is None:  # intact, but stored by another tool or before the depth limits
        problem = "its bytes match the digest but do not parse as a manifest"
        raise _unservable(digest, path, problem, cache, damaged=False)
    manifest = StoredManifest(digest, media_type, body)
    if cache is not None:
        cache.put(manifest)
    return manifest


def _media_type_of(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # pushed before depth limits, or by another tool
        document = None
    return stored_media_type(document) if isinstance(document, dict) else None


def _unservable(
    digest: str, path: str, problem: str, cache: ManifestCache | None, damaged: bool = True
) -> ManifestUnknown:
    """The error a client gets for a stored manifest that cannot be served; logged once per
    digest and process (a pull loop must not flood the log)."""
    remedy = (
        "run `hth-ctl verify-storage --repair` to quarantine it, then push the genuine "
        "manifest again"
        if damaged
        else "delete it (DELETE /v2/<name>/manifests/<digest>) and push a valid one"
    )
    if cache is None or cache.first_report(digest):
        log.error("manifest %s at %s cannot be served: %s; %s", digest, path, problem, remedy)
    state = "is damaged in storage" if damaged else "is stored in a form this registry cannot read"
    return ManifestUnknown(f"manifest {digest} {state} and cannot be served", {"digest": digest})


def delete_manifest(
    driver: StorageDriver,
    name: str,
    reference: str,
    cache: ManifestCache | None = None,
    tag_guard: TagGuard | None = None,
) -> None:
    """By tag: remove that tag only. By digest: remove the revision and every tag whose
    current link is it (Distribution), and its referrers-index entry. Blobs stay for GC.
    A protected tag is never removed: TagProtected, and nothing is deleted (Harbor)."""
    protection = tag_guard.protection() if tag_guard is not None else TagProtection()
    tag, digest = read_reference(reference)
    if tag is not None:
        if tag_digest(driver, name, tag) is None:
            raise unknown(driver, name, reference)
        protection.check(name, [tag])
        if not untag(driver, name, tag):
            raise unknown(driver, name, reference)
        return
    if digest is None or not has_revision(driver, name, digest):
        raise unknown(driver, name, reference)
    pointing = tags_pointing_to(driver, name, digest)
    protection.check(name, pointing)
    subject = _subject_of(driver, digest, cache)
    # Tags first: a crash midway leaves an untagged revision, never a tag to nothing.
    for tag_name in pointing:
        untag(driver, name, tag_name)
    driver.delete(layout.revision_link(name, digest).rsplit("/", 1)[0])
    if subject is not None:
        referrers.remove_referrer(driver, name, subject, digest)


def _subject_of(driver: StorageDriver, digest: str, cache: ManifestCache | None) -> str | None:
    try:
        document = json.loads(load(driver, digest, cache).body)
    except (RegistryError, ValueError, RecursionError):
        return None  # blob already collected or unreadable: nothing to unindex
    subject = document.get("subject")
    found = subject.get("digest") if isinstance(subject, dict) else None
    try:
        return validate_digest(found) if isinstance(found, str) else None
    except DigestInvalid:
        return None


def unknown(driver: StorageDriver, name: str, reference: str) -> RegistryError:
    """NAME_UNKNOWN for a repository that does not exist, else MANIFEST_UNKNOWN."""
    if not repository_exists(driver, name):
        return NameUnknown(f"repository {name!r} not known to registry", detail={"name": name})
    return ManifestUnknown(f"manifest unknown: {reference}", detail={"reference": reference})
