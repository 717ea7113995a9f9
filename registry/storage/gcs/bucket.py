"""The GCS bucket as the driver and its writer both use it: credentials, the SDK client and
the shared HTTP session, the translation of failures into storage errors, and deletes by key.
"""

import builtins
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import google.auth
import requests
from google.api_core import exceptions as api
from google.api_core.retry import Retry
from google.auth import exceptions as auth_errors
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account
from requests.adapters import HTTPAdapter

from registry.config.drivers import GCSSettings
from registry.storage import cloud
from registry.storage.driver import PathNotFoundError, StorageError, StorageUnavailableError
from registry.storage.sessions import EnvironmentOnce

SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
CHUNK_ALIGN = 256 * 1024  # parts stay multiples of this, the unit of GCS's resumable uploads
DELETE_BATCH = 100
DELETE_THREADS = 8
UPLOAD_THREADS = 16  # part uploads, shared by every writer of a driver


class GCSBucket(cloud.ObjectStore):
    """The connection to one bucket; GCSDriver adds the file operations."""

    name = "gcs"

    def __init__(self, settings: GCSSettings) -> None:
        self.settings = settings
        self.keys = cloud.KeySpace.under(settings.rootdirectory)
        self.expiry = settings.redirect_expiry
        self.chunk_size = max(CHUNK_ALIGN, settings.chunksize // CHUNK_ALIGN * CHUNK_ALIGN)
        self.base_url = (settings.endpoint or "https://storage.googleapis.com").rstrip("/")
        self.credentials = _credentials(settings)
        self.http = _Session(self.credentials)
        # The SDK's calls, part uploads and reads share these connections (requests keeps 10
        # per host unless told).
        for scheme in ("http://", "https://"):
            self.http.mount(scheme, HTTPAdapter(pool_maxsize=UPLOAD_THREADS * 2))
        self.client = storage.Client(
            project=getattr(self.credentials, "project_id", None) or "<none>",
            credentials=self.credentials,
            client_options={"api_endpoint": self.base_url} if settings.endpoint else None,
            _http=self.http,
        )
        self.bucket = self.client.bucket(settings.bucket)
        self.timeout = (cloud.CONNECT_TIMEOUT, cloud.READ_TIMEOUT)
        self.retry: Retry = DEFAULT_RETRY.with_timeout(cloud.RETRY_DEADLINE)
        self.uploads = ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="gcs-part")

    @property
    def calls(self) -> dict[str, Any]:
        """Keyword arguments every SDK call gets: bounded waits, bounded retries."""
        return {"timeout": self.timeout, "retry": self.retry}

    def blob(self, path: str) -> storage.Blob:
        return self.bucket.blob(self.keys.key(path))

    def delete_quietly(self, path: str) -> None:
        """Delete `path` and everything below it, if there is anything."""
        try:
            self.delete(path)
        except PathNotFoundError:
            pass

    def delete_keys(self, names: builtins.list[str]) -> None:
        """Delete these object keys, those already gone included."""
        cloud.delete_in_batches(names, DELETE_BATCH, self._delete_batch)

    def _delete_batch(self, names: builtins.list[str]) -> None:
        # Parallel single deletes rather than the batch API, which not every GCS server has.
        with ThreadPoolExecutor(max_workers=DELETE_THREADS) as pool:
            for future in [pool.submit(self._delete_one, name) for name in names]:
                future.result()

    def _delete_one(self, name: str) -> None:
        try:
            self.bucket.blob(name).delete(**self.calls)
        except api.NotFound:
            pass  # deleted meanwhile by someone else

    def check(self, response: requests.Response, path: str, *ok: int) -> None:
        """Raise the storage error a raw response calls for (2xx and `ok` pass)."""
        status = response.status_code
        if 200 <= status < 300 or status in ok:
            return
        response.close()
        if status == 404:
            raise PathNotFoundError(path, driver=self.name)
        message = f"{response.request.method} {path}: {status} {response.reason}"
        raise self._status_error(status, message, path)

    def _status_error(self, status: int, message: str, path: str) -> StorageError:
        if status in (401, 403):
            hint = "access denied by GCS (check keyfile and bucket): "
            return StorageError(hint + message, driver=self.name, path=path)
        if status >= 500 or status in (408, 429):
            return StorageUnavailableError(message, driver=self.name, path=path)
        return StorageError(message, driver=self.name, path=path)

    @contextmanager
    def errors(self, path: str) -> Iterator[None]:
        """Translate the Google SDK's failures into the storage errors callers act on."""
        try:
            yield
        except api.NotFound as exc:
            raise PathNotFoundError(path, driver=self.name) from exc
        except api.GoogleAPICallError as exc:
            raise self._status_error(exc.code or 0, str(exc), path) from exc
        except (api.RetryError, requests.ConnectionError, requests.Timeout) as exc:
            raise StorageUnavailableError(str(exc), driver=self.name, path=path) from exc
        except auth_errors.TransportError as exc:
            raise StorageUnavailableError(str(exc), driver=self.name, path=path) from exc
        except (auth_errors.GoogleAuthError, requests.RequestException) as exc:
            raise StorageError(str(exc), driver=self.name, path=path) from exc

    def close(self) -> None:
        self.uploads.shutdown(wait=True)
        self.http.close()  # type: ignore[no-untyped-call]
        self.client.close()


class _Session(EnvironmentOnce, AuthorizedSession):
    """An authorised session that reads the proxy environment once per host."""


def _credentials(settings: GCSSettings) -> Credentials:
    if settings.keyfile:
        try:
            keyed = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                settings.keyfile, scopes=[SCOPE]
            )
        except (OSError, ValueError, KeyError) as exc:
            message = f"cannot use keyfile {settings.keyfile}: {exc}"
            raise StorageError(message, driver=GCSBucket.name) from None
        chosen: Credentials = keyed.with_always_use_jwt_access(True) if settings.endpoint else keyed
        return chosen
    if settings.endpoint:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    try:
        found, _ = google.auth.default(scopes=[SCOPE])
    except auth_errors.DefaultCredentialsError as exc:
        message = f"no credentials: set keyfile or Application Default Credentials ({exc})"
        raise StorageError(message, driver=GCSBucket.name) from None
    credentials: Credentials = found
    return credentials
