"""Repository names, tags and digests, validated with the distribution-spec's grammar."""

from __future__ import annotations

import re

from registry.errors import DigestInvalid, NameInvalid, TagInvalid

NAME_PATTERN = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
TAG_PATTERN = r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"
DIGEST_PATTERN = r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"

_NAME = re.compile(NAME_PATTERN)
_TAG = re.compile(TAG_PATTERN)
_DIGEST = re.compile(DIGEST_PATTERN)
_HEX = {"sha256": re.compile(r"[a-f0-9]{64}"), "sha512": re.compile(r"[a-f0-9]{128}")}
MAX_NAME_LENGTH = 255


def validate_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise NameInvalid(f"invalid repository name: {name!r}", detail={"name": name})
    return name


def validate_tag(tag: str) -> str:
    if not _TAG.fullmatch(tag):
        raise TagInvalid(f"invalid tag: {tag!r}", detail={"tag": tag})
    return tag


def is_tag(reference: str) -> bool:
    return _TAG.fullmatch(reference) is not None


def is_digest(reference: str) -> bool:
    return ":" in reference


def validate_digest(digest: str) -> str:
    """A digest of a supported algorithm with a well-formed hex part, else DIGEST_INVALID."""
    if not _DIGEST.fullmatch(digest):
        raise DigestInvalid(f"invalid digest: {digest!r}", detail={"digest": digest})
    algorithm, _, encoded = digest.partition(":")
    pattern = _HEX.get(algorithm)
    if pattern is None:
        raise DigestInvalid(f"unsupported digest algorithm: {algorithm!r}")
    if not pattern.fullmatch(encoded):
        raise DigestInvalid(f"invalid {algorithm} digest: {digest!r}", detail={"digest": digest})
    return digest
