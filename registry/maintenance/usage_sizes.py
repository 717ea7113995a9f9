"""Blob sizes for the usage task without reading layer data: a manifest's own length, the
`size` of the descriptors it holds, and a `stat` for what no descriptor sizes (schema 1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from registry import layout
from registry.maintenance.digestset import digest_key, key_digest
from registry.maintenance.gc.scan import stat_or_none
from registry.storage import StorageDriver

# Manifest fields holding descriptors ({"digest", "size"}): config, layers, artifact blobs,
# index children (a child manifest that is read as a revision gets its exact length instead).
_DESCRIPTOR_LISTS = ("layers", "blobs", "manifests")


class BlobSizes:
    """Sizes learnt from the manifests GC's planner reads (`add` runs on its threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exact: dict[bytes, int] = {}  # manifests: the length of their bytes
        self._declared: dict[bytes, int] = {}  # descriptors: what a manifest says

    def add(self, key: bytes, data: bytes) -> None:
        declared = list(_descriptor_sizes(data))
        with self._lock:
            self._exact[key] = len(data)
            for blob, size in declared:
                self._declared.setdefault(blob, size)

    def known(self, key: bytes) -> int | None:
        exact = self._exact.get(key)
        return exact if exact is not None else self._declared.get(key)

    def complete(
        self,
        driver: StorageDriver,
        keys: Iterable[bytes],
        map_fn: Callable[[Callable[[bytes], int], list[bytes]], Iterable[int]],
        stat_all: bool = False,
    ) -> dict[bytes, int]:
        """Every key's size; the ones no manifest declares (with `stat_all`, every one) are
        `stat`ed, one call each run through `map_fn`; a blob whose data is gone counts 0."""
        sizes: dict[bytes, int] = {}
        missing: list[bytes] = []
        for key in keys:
            size = None if stat_all else self.known(key)
            if size is None:
                missing.append(key)
            else:
                sizes[key] = size
        for key, size in zip(
            missing, map_fn(lambda k: _stat_size(driver, k), missing), strict=True
        ):
            sizes[key] = size
        return sizes


def _stat_size(driver: StorageDriver, key: bytes) -> int:
    info = stat_or_none(driver, layout.blob_data(key_digest(key)))
    return info.size if info is not None else 0


def _descriptor_sizes(data: bytes) -> Iterable[tuple[bytes, int]]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return  # GC's parse_refs already refused what is not JSON
    if not isinstance(document, dict):
        return
    descriptors: list[Any] = [document.get("config")]
    for field in _DESCRIPTOR_LISTS:
        values = document.get(field)
        if isinstance(values, list):
            descriptors += values
    for descriptor in descriptors:
        if not isinstance(descriptor, dict):
            continue
        digest, size = descriptor.get("digest"), descriptor.get("size")
        # bool is an int in Python: a descriptor saying `"size": true` sizes nothing.
        if isinstance(digest, str) and isinstance(size, int) and not isinstance(size, bool):
            key = digest_key(digest)
            if key is not None and size >= 0:
                yield key, size
