"""Swift connections: authentication, the container, the cluster's features, TempURL keys."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypedDict

from requests import RequestException
from swiftclient.client import Connection
from swiftclient.exceptions import ClientException

from registry.config.drivers import SwiftSettings
from registry.storage.cloud import CONNECT_TIMEOUT, READ_TIMEOUT, RETRY_ATTEMPTS
from registry.storage.driver import PathNotFoundError, StorageError, StorageUnavailableError

log = logging.getLogger("hth.storage.swift")

_TRANSIENT = (408, 429, 498, 499)


class SessionOptions(TypedDict, total=False):
    """How patient a SwiftSession is: (connect, read) timeouts and retries of each call."""

    timeout: tuple[float, float]
    retries: int


@contextmanager
def translated(path: str) -> Iterator[None]:
    """Map swiftclient and requests failures onto the storage error types."""
    try:
        yield
    except ClientException as exc:
        raise storage_error(exc, path) from exc
    except (RequestException, OSError) as exc:
        raise StorageUnavailableError(f"backend unreachable: {exc}", path=path) from exc


def storage_error(exc: ClientException, path: str) -> StorageError:
    status = exc.http_status
    if status == 404:
        return PathNotFoundError(path)
    if status in (401, 403):
        return StorageError(f"access refused: {status} {exc.http_reason}", path=path)
    if status is None or status >= 500 or status in _TRANSIENT:
        return StorageUnavailableError(f"backend unavailable: {exc.msg}", path=path)
    return StorageError(f"error {status} {exc.http_reason}: {exc.msg}", path=path)


def http_status(exc: StorageError) -> int | None:
    cause = exc.__cause__
    return cause.http_status if isinstance(cause, ClientException) else None


class SwiftSession:
    """Per-thread swiftclient connections sharing one token, and what the cluster offers.

    The first call authenticates, creates the container if missing and reads /info (bulk
    delete, TempURL methods and digests), then sets up the TempURL key when redirects are on.
    """

    def __init__(
        self,
        settings: SwiftSettings,
        *,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        retries: int = RETRY_ATTEMPTS - 1,
    ) -> None:
        self.settings = settings
        self.container = settings.container
        self.timeout, self.retries = timeout, retries
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._auth: tuple[str, str] | None = None
        self.bulk_delete_max = 0
        self.tempurl_key = ""
        self.tempurl_digest = "sha1"
        self.tempurl_methods: set[str] = set()

    def conn(self) -> Connection:
        """This thread's connection: swiftclient connections are not thread-safe."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_connection(*self.setup())
            self._local.conn = conn
        return conn

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def _new_connection(self, url: str | None = None, token: str | None = None) -> Connection:
        s = self.settings
        options = {"region_name": s.region} if s.region else {}
        if s.tenant:
            options |= {"tenant_name": s.tenant, "project_name": s.tenant}
        if s.domain:
            options |= {"user_domain_name": s.domain, "project_domain_name": s.domain}
        conn = Connection(
            authurl=s.authurl,
            user=s.username,
            key=s.password.get_secret_value(),
            auth_version=self._auth_version(),
            os_options=options,
            preauthurl=url,
            preauthtoken=token,
            retries=self.retries,
            starting_backoff=0.2,
            max_backoff=1,
            timeout=self.timeout,
        )
        with self._lock:
            self._connections.append(conn)
        return conn

    def _auth_version(self) -> str:
        if self.settings.authversion:
            return {2: "2.0", 3: "3"}.get(self.settings.authversion, "1")
        url = self.settings.authurl.rstrip("/")
        return "3" if url.endswith("/v3") else "2.0" if url.endswith("/v2.0") else "1"

    def setup(self) -> tuple[str, str]:
        """Authenticate once, create the container if missing, learn the cluster's features."""
        with self._lock:
            if self._auth is not None:
                return self._auth
        conn = self._new_connection()
        self._authenticate(conn)
        with translated(f"container {self.container}"):
            try:
                conn.head_container(self.container)
            except ClientException as exc:
                if exc.http_status != 404:
                    raise
                conn.put_container(self.container)
            self._read_capabilities(conn)
            if self.settings.redirect and self.tempurl_methods:
                self.tempurl_key = self._tempurl_key_or_none(conn)
        with self._lock:
            self._auth = (conn.url, conn.token)
            return self._auth

    def _authenticate(self, conn: Connection) -> None:
        where = f"user {self.settings.username!r} at {self.settings.authurl}"
        try:
            conn.get_auth()
        except ClientException as exc:
            if exc.http_status in (401, 403):
                raise StorageError(
                    f"authentication failed for {where}: {exc.http_status} {exc.http_reason} "
                    "(check username and password)",
                    driver="swift",
                ) from None
            raise storage_error(exc, "/") from exc
        except (RequestException, OSError) as exc:
            raise StorageUnavailableError(f"cannot authenticate {where}: {exc}") from exc

    def _read_capabilities(self, conn: Connection) -> None:
        try:
            info: dict[str, Any] = conn.get_capabilities()
        except ClientException:
            info = {}  # /info is disabled: no bulk delete, the settings name the TempURL methods
        self.bulk_delete_max = int(info.get("bulk_delete", {}).get("max_deletes_per_request", 0))
        methods = set(self.settings.tempurlmethods)
        tempurl = info.get("tempurl")
        if tempurl is not None:
            methods &= set(tempurl.get("methods", methods))
            digests = tempurl.get("allowed_digests", ["sha1"])
            self.tempurl_digest = "sha256" if "sha256" in digests else "sha1"
        elif info:
            methods = set()  # the cluster has no tempurl middleware
        self.tempurl_methods = methods

    def _tempurl_key_or_none(self, conn: Connection) -> str:
        try:
            return self._tempurl_key(conn)
        except ClientException as exc:
            if exc.http_status not in (401, 403):
                raise
            # Not allowed to read or set the key (not an account admin): serve blobs ourselves.
            log.warning(
                "swift: no TempURL key (%s %s): redirects are off", exc.http_status, exc.msg
            )
            return ""

    def _tempurl_key(self, conn: Connection) -> str:
        """The container's or account's Temp-URL key; a random one is set when there is none."""
        if self.settings.tempurlcontainerkey:
            header = "x-container-meta-temp-url-key"
            key: str = conn.head_container(self.container).get(header, "")
            if not key:
                conn.post_container(self.container, {header: os.urandom(32).hex()})
                key = conn.head_container(self.container).get(header, "")
            return key
        header = "x-account-meta-temp-url-key"
        key = conn.head_account().get(header, "")
        if not key:
            conn.post_account({header: os.urandom(32).hex()})
            key = conn.head_account().get(header, "")  # re-read: another instance may have won
        return key
