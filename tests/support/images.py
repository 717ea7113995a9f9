"""Write OCI image layouts without any tool, and read skopeo's `dir:`/`oci:` copies back.

Layers are real gzip-compressed tars of random bytes, configs carry matching `diff_ids`, so
clients treat the images as genuine; every blob read back is re-hashed against its name.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
INDEX_TYPES = {OCI_INDEX, DOCKER_LIST}
REF_NAME = "org.opencontainers.image.ref.name"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest}
        doc["size"] = self.size
        if self.platform:
            doc["platform"] = self.platform
        return doc


@dataclass(frozen=True)
class Image:
    """A single-architecture image written into a layout."""

    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]

    @property
    def blob_digests(self) -> set[str]:
        return {self.config.digest, *(layer.digest for layer in self.layers)}


@dataclass(frozen=True)
class MultiArchImage:
    """An OCI index over several single-architecture images."""

    index: Descriptor
    images: tuple[Image, ...]

    @property
    def manifest_digests(self) -> set[str]:
        return {image.manifest.digest for image in self.images}

    @property
    def blob_digests(self) -> set[str]:
        return set().union(*(image.blob_digests for image in self.images))


def random_layer(size: int, rng: random.Random, name: str) -> tuple[bytes, str]:
    """A gzip'd tar holding one file of `size` random bytes; returns (blob, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, 0
        tar.addfile(info, io.BytesIO(rng.randbytes(size)))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, compresslevel=1, mtime=0), sha256_digest(tar_bytes)


class OciLayout:
    """An OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/...`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        if not (path / "index.json").exists():
            self._write_index([])

    def _write_index(self, manifests: list[dict[str, Any]]) -> None:
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        (self.path / "index.json").write_text(json.dumps(doc, indent=2))

    def put_blob(self, data: bytes, media_type: str) -> Descriptor:
        digest = sha256_digest(data)
        (self.path / "blobs" / "sha256" / digest.removeprefix("sha256:")).write_bytes(data)
        return Descriptor(media_type, digest, len(data))

    def put_json(self, doc: dict[str, Any], media_type: str) -> Descriptor:
        return self.put_blob(json.dumps(doc, indent=2).encode(), media_type)

    def tag(self, descriptor: Descriptor, tag: str) -> None:
        index = json.loads((self.path / "index.json").read_text())
        kept = [m for m in index["manifests"] if m.get("annotations", {}).get(REF_NAME) != tag]
        kept.append({**descriptor.to_json(), "annotations": {REF_NAME: tag}})
        self._write_index(kept)

    def write_image(
        self,
        tag: str | None,
        layer_sizes: list[int],
        platform: tuple[str, str] = ("linux", "amd64"),
        seed: int = 0,
    ) -> Image:
        """An image with one random layer per size (sizes of the files inside the tars)."""
        rng = random.Random(f"{seed}-{platform}")
        layers, diff_ids = [], []
        for number, size in enumerate(layer_sizes):
            blob, diff_id = random_layer(size, rng, f"data/layer-{number}.bin")
            layers.append(self.put_blob(blob, OCI_LAYER_GZIP))
            diff_ids.append(diff_id)
        os_name, arch = platform
        config_doc = {
            "architecture": arch,
            "os": os_name,
            "config": {"Cmd": ["/data/layer-0.bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"tests.support.images layer {n}"} for n in diff_ids],
        }
        config = self.put_json(config_doc, OCI_CONFIG)
        manifest_doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.to_json(),
            "layers": [layer.to_json() for layer in layers],
        }
        manifest = self.put_json(manifest_doc, OCI_MANIFEST)
        manifest = Descriptor(
            manifest.media_type,
            manifest.digest,
            manifest.size,
            {"os": os_name, "architecture": arch},
        )
        if tag is not None:
            self.tag(manifest, tag)
        return Image(manifest, config, tuple(layers))

    def write_index(
        self,
        tag: str,
        platforms: list[tuple[str, str]],
        layer_sizes: list[int],
        seed: int = 0,
    ) -> MultiArchImage:
        """One image per platform (distinct random layers) under one OCI index."""
        images = tuple(self.write_image(None, layer_sizes, p, seed) for p in platforms)
        index_doc = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [image.manifest.to_json() for image in images],
        }
        index = self.put_json(index_doc, OCI_INDEX)
        self.tag(index, tag)
        return MultiArchImage(index, images)


@dataclass
class PulledCopy:
    """What a `dir:` or `oci:` copy holds: the top manifest, child manifests and blobs."""

    manifest: bytes
    children: dict[str, bytes] = field(default_factory=dict)
    blobs: dict[str, Path] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def media_type(self) -> str:
        return manifest_media_type(self.manifest)

    def referenced_blobs(self) -> set[str]:
        """Config and layer digests of the top manifest, or of every child of an index."""
        manifests = list(self.children.values()) if self.children else [self.manifest]
        return set().union(*(referenced_digests(m) for m in manifests))


def manifest_media_type(manifest: bytes) -> str:
    doc = json.loads(manifest)
    media_type = doc.get("mediaType")
    if media_type:
        return str(media_type)
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def referenced_digests(manifest: bytes) -> set[str]:
    """Digests a manifest points at: children of an index, or config plus layers."""
    doc = json.loads(manifest)
    if "manifests" in doc:
        return {child["digest"] for child in doc["manifests"]}
    return {doc["config"]["digest"], *(layer["digest"] for layer in doc["layers"])}


def _verified(path: Path, digest: str) -> Path:
    actual = file_digest(path)
    assert actual == digest, f"{path}: content hashes to {actual}, named {digest}"
    return path


def read_dir_copy(path: Path) -> PulledCopy:
    """Read a `skopeo copy ... dir:PATH` result; every file is re-hashed against its name."""
    pulled = PulledCopy((path / "manifest.json").read_bytes())
    for entry in sorted(path.iterdir()):
        if entry.name in {"manifest.json", "version"}:
            continue
        if entry.name.endswith(".manifest.json"):
            digest = "sha256:" + entry.name.removesuffix(".manifest.json")
            data = entry.read_bytes()
            assert sha256_digest(data) == digest, f"{entry}: manifest does not hash to its name"
            pulled.children[digest] = data
        else:
            pulled.blobs["sha256:" + entry.name] = _verified(entry, "sha256:" + entry.name)
    return pulled


def read_oci_copy(path: Path, tag: str) -> PulledCopy:
    """Read an `oci:PATH:TAG` layout written by a client; child manifests come from blobs."""
    index = json.loads((path / "index.json").read_text())
    refs = [m for m in index["manifests"] if m.get("annotations", {}).get(REF_NAME) == tag]
    assert len(refs) == 1, f"{path}: expected one manifest tagged {tag!r}, index is {index}"
    blob_dir = path / "blobs" / "sha256"
    blobs = {"sha256:" + p.name: _verified(p, "sha256:" + p.name) for p in blob_dir.iterdir()}
    manifest = blobs.pop(refs[0]["digest"]).read_bytes()
    pulled = PulledCopy(manifest, blobs=blobs)
    if manifest_media_type(manifest) in INDEX_TYPES:
        for child in referenced_digests(manifest):
            pulled.children[child] = blobs.pop(child).read_bytes()
    return pulled
