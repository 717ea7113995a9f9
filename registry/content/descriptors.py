"""OCI descriptors and the fields around them, checked for the types every client decodes.

A field a Go client reads into an int64 or a string must be one here too: a manifest that
we accept but `docker pull` cannot decode is lost to every such client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from registry.content.names import validate_digest
from registry.errors import DigestInvalid, ManifestInvalid

MAX_SIZE = 2**63 - 1  # descriptor sizes are int64 in the image-spec and in Go clients
_PLATFORM_STRINGS = ("architecture", "os", "os.version", "variant")
_PLATFORM_LISTS = ("os.features", "features")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    platform: dict[str, Any] | None = None


def invalid(reason: str) -> NoReturn:
    raise ManifestInvalid(f"manifest invalid: {reason}", detail=reason)


def descriptor_list(value: Any, where: str) -> list[Descriptor]:
    if not isinstance(value, list):
        invalid(f"{where} must be an array")
    return [descriptor(item, f"{where}[{i}]") for i, item in enumerate(value)]


def descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        invalid(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        invalid(f"{where}.mediaType must be a non-empty string")
    size = value.get("size")
    if type(size) is not int or not 0 <= size <= MAX_SIZE:
        invalid(f"{where}.size must be an integer from 0 to 2^63-1")
    urls = _string_list(value, "urls", where)
    platform = _platform(value.get("platform"), f"{where}.platform")
    optional_string(value, "artifactType", where)
    optional_string(value, "data", where)
    annotation_map(value, where)
    digest = digest_field(value.get("digest"), f"{where}.digest")
    return Descriptor(media_type, digest, size, tuple(urls), platform)


def _platform(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        invalid(f"{where} must be an object")
    for key in _PLATFORM_STRINGS:
        optional_string(value, key, where)
    for key in _PLATFORM_LISTS:
        _string_list(value, key, where)
    return value


def _string_list(document: dict[str, Any], key: str, where: str) -> list[str]:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        invalid(f"{where}.{key} must be an array of strings")
    return value


def digest_field(value: Any, where: str) -> str:
    if not isinstance(value, str):
        invalid(f"{where} must be a digest string")
    try:
        return validate_digest(value)
    except DigestInvalid as exc:
        invalid(f"{where}: {exc.message}")


def optional_string(document: dict[str, Any], key: str, where: str = "") -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        invalid(f"{where + '.' if where else ''}{key} must be a string")
    return value or None


def annotation_map(document: dict[str, Any], where: str) -> dict[str, str] | None:
    value = document.get("annotations")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        invalid(f"{where + '.' if where else ''}annotations must map strings to strings")
    return value
