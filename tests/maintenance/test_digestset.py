"""Digest keys: raw hash bytes in, digest strings out."""

from __future__ import annotations

import hashlib

import pytest

from registry.maintenance.digestset import DigestSet, digest_key, hex_key, key_digest

SHA256 = "sha256:" + hashlib.sha256(b"a").hexdigest()
SHA512 = "sha512:" + hashlib.sha512(b"a").hexdigest()


@pytest.mark.parametrize("digest", [SHA256, SHA512])
def test_key_round_trips_to_the_same_digest(digest: str) -> None:
    key = digest_key(digest)

    assert key is not None and len(key) in (32, 64)
    assert key_digest(key) == digest


@pytest.mark.parametrize(
    "text",
    ["", "sha256", "sha256:abc", "md5:" + "0" * 32, "sha256:" + "g" * 64, SHA256 + "00"],
)
def test_anything_but_a_sha256_or_sha512_digest_has_no_key(text: str) -> None:
    assert digest_key(text) is None


def test_hex_key_takes_the_parts_of_a_blob_folder() -> None:
    assert hex_key("sha256", SHA256.partition(":")[2]) == digest_key(SHA256)


def test_set_holds_keys_and_lists_digests_sorted() -> None:
    digests = DigestSet()
    first = digest_key(SHA512)
    second = digest_key(SHA256)
    assert first is not None and second is not None

    assert digests.add(first) and digests.add(second) and not digests.add(first)

    assert len(digests) == 2 and first in digests
    assert digests.digests() == sorted([SHA256, SHA512])
    digests.discard(first)
    assert first not in digests
