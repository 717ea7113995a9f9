"""Raw-socket HTTP/1.1 for tests that must send what a client library would refuse or
serialize: a head without its body yet, a body longer or shorter than declared, a chunked
body, a connection held open, heads of any size."""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class RawResponse:
    status: int
    head: bytes = b""
    body: bytes = b""

    @property
    def headers(self) -> dict[str, str]:
        """Header names in lower case (the last of repeated ones)."""
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        pairs = (line.partition(":") for line in lines)
        return {name.strip().lower(): value.strip() for name, _, value in pairs}

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        code: str = self.json()["errors"][0]["code"]
        return code


# What a peer that closed or reset its side looks like, in plain TCP and in TLS.
CLOSED = (BrokenPipeError, ConnectionResetError, ssl.SSLError)


class RawConnection:
    """One TCP (or TLS) connection to 127.0.0.1:`port`, with a read buffer for its answers."""

    def __init__(self, port: int, timeout: float = 60.0, tls: ssl.SSLContext | None = None):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = tls.wrap_socket(sock, server_hostname="127.0.0.1") if tls else sock
        self.buffer = b""

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.sock.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_head(self, method: str, target: str, headers: dict[str, str] | None = None) -> None:
        lines = [f"{method} {target} HTTP/1.1", "Host: registry"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send_chunk(self, data: bytes) -> None:
        """One piece of a `Transfer-Encoding: chunked` body (b"" ends the body)."""
        self.sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def send_quietly(self, data: bytes) -> bool:
        """Send `data`; False when the server had closed its side first (not an error here)."""
        try:
            self.sock.sendall(data)
        except CLOSED:
            return False
        return True

    def response(self) -> RawResponse:
        """The next response, its body read by Content-Length (what the registry sends)."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._receive():
                raise ConnectionError(f"closed before a whole response head: {self.buffer!r}")
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(found.group(1)) if found else 0
        while len(self.buffer) < length and self._receive():
            pass
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(parse_status(head), head, body)

    def until_closed(self) -> tuple[float, bytes]:
        """Seconds until the server closes the connection, and all it sent until then."""
        started = time.monotonic()
        while self._receive():
            pass
        data, self.buffer = self.buffer, b""
        return time.monotonic() - started, data

    def _receive(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except CLOSED:
            return False
        self.buffer += chunk
        return bool(chunk)


def request(
    port: int, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> RawResponse:
    """One whole request on a new connection."""
    with RawConnection(port) as conn:
        conn.send_head(method, target, {"Content-Length": str(len(body)), **(headers or {})})
        conn.send(body)
        return conn.response()


def parse_status(data: bytes) -> int:
    found = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    if not found:
        raise AssertionError(f"not an HTTP response: {data[:80]!r}")
    return int(found.group(1))


def rss_kib(pid: int) -> int:
    """Resident memory of process `pid` and every descendant (uvicorn workers), in KiB."""
    total = 0
    for each in [pid, *descendants(pid)]:
        status = Path(f"/proc/{each}/status").read_text()
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        total += int(found.group(1)) if found else 0
    return total


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (its children, theirs, ...); one that ends meanwhile is
    left out."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found
