"""uvicorn's h11 protocol behind a HeadGuard (api/protocol/implementations.py)."""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol

from api.protocol.implementations import _Guarded


class GuardedH11(_Guarded, H11Protocol):
    pass
