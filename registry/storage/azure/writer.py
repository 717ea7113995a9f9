"""The Azure streamed writer: blocks staged a few at a time, the block list committed at close
and commit, so that writer(path, append=True) in any process extends it."""

from __future__ import annotations

import base64
import uuid
from concurrent.futures import ThreadPoolExecutor

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobClient

from registry.storage.chunked import byte_ranges
from registry.storage.cloud import Guard
from registry.storage.driver import InvalidOffsetError
from registry.storage.parts import InFlight, PartWriter

BLOCK_SIZE = 4 * 1024 * 1024
# Blocks one writer may have on the wire at once: the stream goes on while they are staged
# (each Put Block waits on the service; Azurite also hashes every block it receives).
BLOCKS_IN_FLIGHT = 2


def open_writer(
    blob: BlobClient,
    path: str,
    append: bool,
    size: int | None,
    guard: Guard,
    staging: ThreadPoolExecutor,
) -> AzureWriter:
    """A writer of the blob at `path`: a new file, or the committed blocks resumed at `size`."""
    with guard():
        if not append or size == 0:
            return AzureWriter(guard, staging, path, blob, [], 0, fresh=True)
        try:
            ids, sizes, stored = _committed_blocks(blob)
        except ResourceNotFoundError:
            if size:
                raise InvalidOffsetError(path, size, driver="azure") from None
            return AzureWriter(guard, staging, path, blob, [], 0)
        keep = stored if size is None else size
        if sum(sizes) != stored or not all(map(_ours, ids)):
            if keep > stored:
                raise InvalidOffsetError(path, keep, driver="azure")
            ids = _restage(blob, keep)  # written in one Put Blob, or by another tool
        else:
            ids = ids[: _blocks_up_to(sizes, keep, path)]
        if keep < stored:  # the cut is made now, so that a rollback keeps it
            blob.commit_block_list([BlobBlock(block_id) for block_id in ids])
        return AzureWriter(guard, staging, path, blob, ids, keep)


def _restage(blob: BlobClient, size: int) -> list[str]:
    """Stage the blob's content again as blocks of ours, one block in memory at a time."""
    ids = []
    for offset, length in byte_ranges(0, size, BLOCK_SIZE):
        ids.append(_block_id())
        blob.stage_block(ids[-1], blob.download_blob(offset, length).readall())
    return ids


class AzureWriter(PartWriter):
    """Stages blocks, a few at a time; close() commits the block list so a resumed writer can
    extend it."""

    driver = "azure"
    in_flight: InFlight

    def __init__(
        self,
        guard: Guard,
        staging: ThreadPoolExecutor,
        path: str,
        blob: BlobClient,
        ids: list[str],
        size: int,
        *,
        fresh: bool = False,
    ) -> None:
        super().__init__(path, BLOCK_SIZE, guard, size=size, pending=b"")
        self._blob = blob
        self._ids = ids  # in content order, whichever block is staged first
        self._fresh = fresh  # a new file: its block list is replaced, whatever it was
        self.in_flight = InFlight(staging, BLOCKS_IN_FLIGHT)

    def _make_room(self) -> None:
        self.in_flight.make_room()  # before the next block's bytes are cut off the stream

    def _upload_part(self, data: bytes) -> None:
        block_id = _block_id()
        self._ids.append(block_id)
        self.in_flight.submit(lambda: self._blob.stage_block(block_id, data))

    def _finish(self, tail: bytes) -> None:
        self.in_flight.require_intact("block", self.path)
        if tail:
            self._upload_part(tail)
        self.in_flight.drain()
        self._blob.commit_block_list([BlobBlock(block_id) for block_id in self._ids])

    def _persist(self, tail: bytes) -> None:
        if not self.in_flight.failed:  # else the blob stays as committed before this writer
            self._finish(tail)

    def _discard(self) -> None:
        self.in_flight.settle()  # the blob goes anyway
        try:
            self._blob.delete_blob()
        except ResourceNotFoundError:
            pass

    def _revert(self) -> None:
        # Staged blocks that no block list names are dropped by the service (at the next
        # commit, or after a week): leaving the list alone is the rollback. A new file was
        # empty from the start, whatever the path held before.
        if self._fresh:
            self._blob.commit_block_list([])


def _committed_blocks(blob: BlobClient) -> tuple[list[str], list[int], int]:
    """The committed block ids, their sizes and the blob's size: one Get Block List, as
    every chunk of an upload reopens its blob. The public get_block_list() drops the
    response's x-ms-blob-content-length, which would cost a Get Blob Properties more."""
    block_list, headers = blob._client.block_blob.get_block_list(
        list_type="committed", cls=lambda _response, body, headers: (body, headers)
    )
    committed = block_list.committed_blocks or []
    ids = [_block_id_of(block.name) for block in committed]
    sizes = [int(block.size) for block in committed]
    return ids, sizes, int(headers["x-ms-blob-content-length"])


def _blocks_up_to(sizes: list[int], size: int, path: str) -> int:
    """How many blocks make up the first `size` bytes; every close ends a block."""
    total = 0
    for count, block_size in enumerate(sizes):
        if total == size:
            return count
        total += block_size
    if total == size:
        return len(sizes)
    raise InvalidOffsetError(path, size, driver="azure")


def _block_id_of(wire_name: str) -> str:
    """Block ids go base64-encoded on the wire (the SDK encodes ours once more)."""
    try:
        return base64.b64decode(wire_name, validate=True).decode()
    except ValueError:
        return wire_name  # not one of ours: the blob gets restaged


def _block_id() -> str:
    return base64.b64encode(uuid.uuid4().hex.encode()).decode()


def _ours(block_id: str) -> bool:
    # Azure wants every block id of a blob to have the same length.
    return len(block_id) == 44
