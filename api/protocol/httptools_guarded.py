"""uvicorn's httptools protocol behind a HeadGuard (api/protocol/implementations.py)."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.protocol.implementations import _Guarded


class GuardedHttpTools(_Guarded, HttpToolsProtocol):
    pass
