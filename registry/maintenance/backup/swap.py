"""Swap two directories atomically: Linux's renameat2(RENAME_EXCHANGE), or three renames
(rolled back on failure) where the filesystem or the C library lacks it."""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
from pathlib import Path

AT_FDCWD = -100
RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}


def _renameat2_exchange(first: Path, second: Path) -> bool:
    """True once swapped; False where the exchange is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    first_b, second_b = os.fsencode(first), os.fsencode(second)
    if renameat2(AT_FDCWD, first_b, AT_FDCWD, second_b, RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in _UNSUPPORTED:
        return False
    raise OSError(error, os.strerror(error), str(first), None, str(second))


def exchange_dirs(fresh: Path, live: Path) -> bool:
    """Put `fresh` at `live`, and what was at `live` at `fresh`. False when nothing was at
    `live` (then `fresh` is simply renamed)."""
    if not live.exists():
        os.rename(fresh, live)
        return False
    if _renameat2_exchange(fresh, live):
        return True
    aside = live.with_name(f".{live.name}.swap-{secrets.token_hex(4)}")
    os.rename(live, aside)
    try:
        os.rename(fresh, live)
    except BaseException:
        os.rename(aside, live)
        raise
    os.rename(aside, fresh)
    return True
