"""SHA-256 whose running state can be saved and resumed, in Go's encoding.

Chunked uploads hash each chunk once, as it arrives, on whichever instance receives it: the
state is stored under `_uploads/<uuid>/hashstates/sha256/<offset>` in the same binary form
Go's crypto/sha256 uses (which is what Distribution writes), read through OpenSSL's SHA256_CTX.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import struct

_MAGIC = b"sha\x03"
_BLOCK = 64
_MARSHALED_SIZE = len(_MAGIC) + 8 * 4 + _BLOCK + 8
_CTX_SIZE = 112  # SHA256_CTX: h[8], Nl, Nh, data[16], num, md_len (32-bit words)
_CTX = struct.Struct("=8I2I64s2I")


def _load_libcrypto() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("crypto")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
        lib.SHA256_Init.argtypes = [ctypes.c_void_p]
        lib.SHA256_Update.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    except (OSError, AttributeError):
        return None
    return lib


_LIB = _load_libcrypto()
RESUMABLE = _LIB is not None


class HashStateError(ValueError):
    pass


class ResumableSha256:
    """hashlib-like SHA-256 with `marshal()` / `unmarshal()` of its running state."""

    def __init__(self) -> None:
        if _LIB is None:
            raise HashStateError("libcrypto is not available: hash states cannot be resumed")
        self._ctx = ctypes.create_string_buffer(_CTX_SIZE)
        _LIB.SHA256_Init(self._ctx)
        self.length = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        assert _LIB is not None
        view = bytes(data) if not isinstance(data, bytes) else data
        _LIB.SHA256_Update(self._ctx, view, len(view))
        self.length += len(view)

    def hexdigest(self) -> str:
        assert _LIB is not None
        copy = ctypes.create_string_buffer(self._ctx.raw, _CTX_SIZE)
        out = ctypes.create_string_buffer(32)
        _LIB.SHA256_Final(out, copy)
        return out.raw.hex()

    def marshal(self) -> bytes:
        fields = _CTX.unpack(self._ctx.raw)
        h = fields[:8]
        nl, nh, num = int(fields[8]), int(fields[9]), int(fields[11])
        data = bytes(fields[10])
        length = ((nh << 32) | nl) >> 3
        return (
            _MAGIC
            + struct.pack(">8I", *h)
            + data[:num].ljust(_BLOCK, b"\0")
            + struct.pack(">Q", length)
        )

    @classmethod
    def unmarshal(cls, state: bytes) -> ResumableSha256:
        if len(state) != _MARSHALED_SIZE or not state.startswith(_MAGIC):
            raise HashStateError("not a sha256 hash state")
        h = struct.unpack(">8I", state[4:36])
        (length,) = struct.unpack(">Q", state[100:108])
        num = length % _BLOCK
        bits = length << 3
        obj = cls()
        packed = _CTX.pack(
            *h,
            bits & 0xFFFFFFFF,
            (bits >> 32) & 0xFFFFFFFF,
            state[36 : 36 + num].ljust(_BLOCK, b"\0"),
            num,
            32,
        )
        ctypes.memmove(obj._ctx, packed, _CTX_SIZE)
        obj.length = length
        return obj


def new_sha256() -> ResumableSha256 | hashlib._Hash:
    """A resumable hasher where libcrypto is available, else a plain hashlib one."""
    return ResumableSha256() if RESUMABLE else hashlib.sha256()
