"""Fixtures for the real-client tests: source images on disk, skopeo, a private Docker
engine, fresh registries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testbed.distribution import DistributionProcess
from testbed.processes import RegistryProcess
from tests.support.clients import Skopeo
from tests.support.docker_engine import DockerEngine, EngineUnavailable
from tests.support.images import Image, MultiArchImage, OciLayout

# A small layer, a config-sized one and one big enough to stream in many socket reads.
LAYER_SIZES = [1_000, 64 * 1024, 5 * 1024 * 1024]
PLATFORMS = [("linux", "amd64"), ("linux", "arm64"), ("linux", "s390x")]


@dataclass(frozen=True)
class SourceImages:
    """An OCI layout holding tag `single` (one image) and tag `multi` (an index)."""

    layout: Path
    single: Image
    multi: MultiArchImage

    def ref(self, tag: str) -> str:
        return f"oci:{self.layout}:{tag}"


@pytest.fixture(scope="session")
def source_images(tmp_path_factory: pytest.TempPathFactory) -> SourceImages:
    path = tmp_path_factory.mktemp("source") / "layout"
    layout = OciLayout(path)
    single = layout.write_image("single", LAYER_SIZES, seed=1)
    multi = layout.write_index("multi", PLATFORMS, [2_000, 300 * 1024], seed=2)
    return SourceImages(path, single, multi)


@pytest.fixture()
def skopeo(tmp_path: Path) -> Skopeo:
    return Skopeo(tmp_path / "skopeo")


@pytest.fixture()
def start_registry(tmp_path: Path) -> Iterator[Callable[[Path], RegistryProcess]]:
    """Start our registry on a given storage root; every one started is stopped afterwards."""
    started: list[RegistryProcess] = []

    def start(storage_root: Path) -> RegistryProcess:
        workdir = tmp_path / f"ours-{len(started)}"
        config = {"docker_registry": {"storage_settings": {"rootdirectory": str(storage_root)}}}
        server = RegistryProcess(workdir, config)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture()
def start_distribution(tmp_path: Path) -> Iterator[Callable[[Path], DistributionProcess]]:
    """Start Distribution's registry on a given storage root; stopped afterwards."""
    started: list[DistributionProcess] = []

    def start(storage_root: Path) -> DistributionProcess:
        server = DistributionProcess(tmp_path / f"distribution-{len(started)}", storage_root)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """One private dockerd for the session; skipped only where it cannot start here."""
    try:
        engine = DockerEngine.start_private()
    except EngineUnavailable as exc:
        pytest.skip(f"no Docker engine: {exc}")
    yield engine
    engine.stop()


@pytest.fixture()
def docker(docker_engine: DockerEngine) -> Iterator[DockerEngine]:
    """The session's engine, emptied of images after the test (vfs copies every layer)."""
    yield docker_engine
    docker_engine.remove_all_images()
