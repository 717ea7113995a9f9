"""Byte ranges: `Range` requests on blobs and `Content-Range` of upload chunks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from registry.errors import BlobUploadInvalid, RangeInvalid

# Clients send the bare "<start>-<end>" of the distribution-spec; some prefix "bytes " or
# "bytes=" or append "/<total>" as in HTTP's Content-Range, which costs nothing to accept.
_CHUNK_RANGE = re.compile(r"(?:bytes[ =])?(\d{1,19})-(\d{1,19})(?:/(?:\d{1,19}|\*))?")
_BYTES_RANGE = re.compile(r"(\d{0,19})-(\d{0,19})")


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Bytes `start` to `end` inclusive, as HTTP counts them."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def upload_progress(size: int) -> str:
    """The `Range` header of an upload holding `size` bytes: "0-<last byte>", "0-0" when
    empty, exactly as Distribution writes it."""
    return f"0-{max(size - 1, 0)}"


def parse_chunk_range(header: str) -> ByteRange:
    """The `Content-Range` of a PATCH/PUT chunk; a malformed one is BLOB_UPLOAD_INVALID."""
    found = _CHUNK_RANGE.fullmatch(header.strip())
    if found is None:
        raise BlobUploadInvalid(f"malformed Content-Range: {header!r}", detail={"range": header})
    start, end = int(found[1]), int(found[2])
    if start > end:
        raise RangeInvalid(f"Content-Range {header!r} ends before it starts")
    return ByteRange(start, end)


def parse_range_request(header: str | None, size: int) -> ByteRange | None:
    """The single range a `Range: bytes=...` request asks of a `size`-byte blob.

    None means "send it all": no header, another unit, or several ranges (which RFC 9110
    lets a server ignore). A malformed or unsatisfiable range raises RANGE_INVALID (416)
    with `Content-Range: bytes */<size>`, as Go's http.ServeContent answers.
    """
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    found = _BYTES_RANGE.fullmatch(spec.strip())
    byte_range = _resolve(found[1], found[2], size) if found else None
    if byte_range is None:
        error = RangeInvalid(f"range {header!r} not satisfiable for {size} bytes")
        error.headers["Content-Range"] = f"bytes */{size}"
        raise error
    return byte_range


def _resolve(first: str, last: str, size: int) -> ByteRange | None:
    if not first:  # "-n": the last n bytes
        if not last or int(last) == 0 or size == 0:
            return None
        return ByteRange(max(size - int(last), 0), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return None
    return ByteRange(start, min(end, size - 1))
