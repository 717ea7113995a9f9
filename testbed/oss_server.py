"""A small Aliyun OSS-protocol server for tests: the subset of OSS's published API that the oss2
SDK uses for objects, listings and multipart uploads, with OSS V1 signatures checked.

No OSS emulator exists (PyPI, npm, Debian), and oss2 cannot talk to S3 servers. Objects live in
memory. Run alone with `python -m testbed.oss_server PORT`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from testbed.oss_protocol import (
    SUBRESOURCES,
    Blob,
    Bucket,
    OSSError,
    Request,
    Upload,
    check_skew,
    complete_upload,
    copy_object,
    delete_multiple,
    error_body,
    find_object,
    find_upload,
    get_object,
    initiate_upload,
    list_objects,
    list_parts,
    list_uploads,
    put_object,
    put_part,
    string_to_sign,
    upload_part_copy,
)
from testbed.processes import REPO_ROOT, free_port, wait_http


class OSSServer:
    """The server in a background thread; `requests` records (method, key, subresources),
    `copies` the (destination key, bytes) of every server-side copy (CopyObject, UploadPartCopy).
    """

    def __init__(self, buckets: tuple[str, ...] = ("hth-test",), port: int = 0) -> None:
        self.access_key_id = "hth-test-key-id"
        self.access_key_secret = "hth-test-key-secret"
        self.buckets = {name: Bucket() for name in buckets}
        self.port = port or free_port()
        self.copy_limit = 1024**3  # CopyObject refuses larger sources: use UploadPartCopy
        self.requests: list[tuple[str, str, frozenset[str]]] = []
        self.copies: list[tuple[str, int]] = []
        self.lock = threading.RLock()
        self.connections: set[socket.socket] = set()
        self.thawed = threading.Event()
        self.thawed.set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OSSServer:
        handler = type("Handler", (_Handler,), {"oss": self})
        self._httpd = _QuietServer(("127.0.0.1", self.port), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection: clients see a real outage."""
        self.thaw()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self.lock:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self.connections.clear()

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """Driver settings (hth.json keys) for `bucket` on this server."""
        keys = {"accesskeyid": self.access_key_id, "accesskeysecret": self.access_key_secret}
        return {**keys, "bucket": bucket, "region": "oss-test", "endpoint": self.endpoint, **extra}

    def new_bucket(self) -> str:
        name = f"hth-{uuid.uuid4().hex[:10]}"
        with self.lock:
            self.buckets[name] = Bucket()
        return name

    def freeze(self) -> None:
        """Keep accepting requests but answer none until thaw(): a hung backend."""
        self.thawed.clear()

    def thaw(self) -> None:
        self.thawed.set()

    def keys(self, bucket: str) -> list[str]:
        with self.lock:
            return sorted(self.buckets[bucket].objects)

    def uploads(self, bucket: str) -> list[Upload]:
        with self.lock:
            return list(self.buckets[bucket].uploads.values())

    # -- authentication -----------------------------------------------------------------

    def authenticate(self, req: Request) -> None:
        auth = req.headers.get("authorization", "")
        if auth:
            if not auth.startswith("OSS ") or ":" not in auth:
                raise OSSError(400, "InvalidArgument", "Authorization header is invalid.")
            key_id, signature = auth[4:].rsplit(":", 1)
            date = req.headers.get("x-oss-date") or req.headers.get("date", "")
            check_skew(date)
        elif "Signature" in req.query:
            key_id, signature = req.query.get("OSSAccessKeyId", ""), req.query["Signature"]
            date = req.query.get("Expires", "0")
            if not date.isdigit() or int(date) < time.time():
                raise OSSError(403, "AccessDenied", "Request has expired.")
        else:
            raise OSSError(403, "AccessDenied", "You have no right to access this object.")
        if key_id != self.access_key_id:
            raise OSSError(
                403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist."
            )
        to_sign = string_to_sign(req, date)
        mac = hmac.new(self.access_key_secret.encode(), to_sign.encode(), hashlib.sha1)
        if not hmac.compare_digest(base64.b64encode(mac.digest()).decode(), signature):
            raise OSSError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                StringToSign=to_sign,
            )
        md5 = req.headers.get("content-md5")
        if md5 and base64.b64encode(hashlib.md5(req.body).digest()).decode() != md5:
            raise OSSError(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")

    # -- routing --------------------------------------------------------------------------

    def handle(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        self.authenticate(req)
        with self.lock:
            self.requests.append((req.method, req.key, frozenset(req.query) & SUBRESOURCES))
            if req.bucket not in self.buckets:
                if req.method == "PUT" and not req.key and not req.query:
                    self.buckets[req.bucket] = Bucket()
                    return 200, {}, b""
                raise OSSError(404, "NoSuchBucket", "The specified bucket does not exist.")
            bucket = self.buckets[req.bucket]
            if not req.key:
                return self._bucket_operation(req, bucket)
            return self._object_operation(req, bucket)

    def _bucket_operation(self, req: Request, bucket: Bucket) -> tuple[int, dict[str, str], bytes]:
        if req.method == "GET" and "uploads" in req.query:
            return 200, {}, list_uploads(req, bucket)
        if req.method == "GET":
            return 200, {}, list_objects(req, bucket)
        if req.method == "POST" and "delete" in req.query:
            return 200, {}, delete_multiple(req, bucket)
        raise OSSError(400, "NotImplemented", f"{req.method} on a bucket is not implemented here.")

    def _object_operation(self, req: Request, bucket: Bucket) -> tuple[int, dict[str, str], bytes]:
        q, method = req.query, req.method
        if method == "PUT" and "uploadId" in q and "partNumber" in q:
            upload = find_upload(bucket, req)
            if "x-oss-copy-source" in req.headers:
                status, headers, body = upload_part_copy(req, upload, self._copy_source(req))
                self.copies.append((req.key, len(upload.parts[int(q["partNumber"])].data)))
                return status, headers, body
            return put_part(upload, int(q["partNumber"]), req.body)
        if method == "PUT" and "x-oss-copy-source" in req.headers:
            source = self._copy_source(req)
            if len(source.data) > self.copy_limit:
                raise OSSError(400, "InvalidRequest", "The source object is too large to copy.")
            self.copies.append((req.key, len(source.data)))
            return copy_object(req, bucket, source)
        if method == "PUT" and not q.keys() & SUBRESOURCES:
            return put_object(req, bucket)
        if method == "GET" and "uploadId" in q:
            return 200, {}, list_parts(req, find_upload(bucket, req))
        if method in ("GET", "HEAD") and not q.keys() & SUBRESOURCES:
            return get_object(req, find_object(bucket, req.key))
        if method == "DELETE" and "uploadId" in q:
            find_upload(bucket, req)
            del bucket.uploads[q["uploadId"]]
            return 204, {}, b""
        if method == "DELETE" and not q.keys() & SUBRESOURCES:
            bucket.objects.pop(req.key, None)
            return 204, {}, b""
        if method == "POST" and "uploads" in q:
            return initiate_upload(req, bucket)
        if method == "POST" and "uploadId" in q:
            return complete_upload(req, bucket, find_upload(bucket, req))
        raise OSSError(400, "NotImplemented", f"{method} {sorted(q)} is not implemented here.")

    def _copy_source(self, req: Request) -> Blob:
        source = unquote(req.headers["x-oss-copy-source"]).lstrip("/")
        bucket_name, _, key = source.partition("/")
        if bucket_name not in self.buckets:
            raise OSSError(404, "NoSuchBucket", "The specified bucket does not exist.")
        return find_object(self.buckets[bucket_name], key)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up (tests cut connections on purpose) is not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body would wait for
    # the client's delayed ACK of the headers, 40 ms on every answer.
    disable_nagle_algorithm = True
    oss: OSSServer

    def setup(self) -> None:
        super().setup()
        with self.oss.lock:
            self.oss.connections.add(self.connection)

    def finish(self) -> None:
        with self.oss.lock:
            self.oss.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet: tests read `requests` instead

    def _serve(self) -> None:
        self.oss.thawed.wait()
        request_id = uuid.uuid4().hex.upper()[:24]
        try:
            status, headers, body = self.oss.handle(self._request())
        except OSSError as exc:
            status, headers, body = exc.status, {}, error_body(exc, request_id)
            if self.command == "HEAD":
                headers["x-oss-err"] = base64.b64encode(body).decode()
        headers["x-oss-request-id"] = request_id
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Type" not in headers and body:
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Date", formatdate(usegmt=True))
        self.end_headers()
        if self.command != "HEAD":
            view = memoryview(body)
            for start in range(0, len(view), 1 << 20):
                self.wfile.write(view[start : start + (1 << 20)])

    def _request(self) -> Request:
        parts = urlsplit(self.path)
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Request(self.command, bucket, key, query, headers, self._body())

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    return b"".join(chunks)
                chunks.append(chunk)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


@pytest.fixture(scope="session")
def oss_server() -> Iterator[OSSServer]:
    """One OSS test server for the whole session; tests isolate themselves by bucket."""
    server = OSSServer().start()
    try:
        yield server
    finally:
        server.thaw()
        server.stop()


class OSSServerProcess:
    """The server as a child process (`python -m testbed.oss_server PORT`): its memory is
    not this process's, which tests that measure the driver's memory need."""

    def __init__(self, workdir: Path) -> None:
        self.spec = OSSServer()  # the child's keys and port; never started here
        log = open(workdir / "oss-server.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "testbed.oss_server", str(self.spec.port)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_http(self.spec.endpoint, proc=self.proc)

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        return self.spec.settings(bucket, **extra)

    def new_bucket(self) -> str:
        import oss2

        name = f"hth-{uuid.uuid4().hex[:10]}"
        auth = oss2.Auth(self.spec.access_key_id, self.spec.access_key_secret)
        oss2.Bucket(auth, self.spec.endpoint, name).create_bucket()
        return name

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="session")
def oss_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OSSServerProcess]:
    server = OSSServerProcess(tmp_path_factory.mktemp("oss-server"))
    try:
        yield server
    finally:
        server.stop()


def conformance_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for the shared driver conformance suite: a fresh bucket on the server in its own
    process (the suite measures this process's memory), 1 MiB parts."""
    server: OSSServerProcess = request.getfixturevalue("oss_server_process")
    return server.settings(server.new_bucket(), chunksize=1024 * 1024, rootdirectory="/reg")


def leftovers(settings: dict[str, Any]) -> list[str]:
    """Every object and unfinished multipart upload in the settings' bucket, seen through oss2."""
    import oss2

    auth = oss2.Auth(settings["accesskeyid"], settings["accesskeysecret"])
    bucket = oss2.Bucket(auth, settings["endpoint"], settings["bucket"])
    keys = [obj.key for obj in oss2.ObjectIteratorV2(bucket)]
    return keys + [f"upload of {u.key}" for u in oss2.MultipartUploadIterator(bucket)]


if __name__ == "__main__":
    server = OSSServer(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(f"OSS test server at {server.endpoint}, bucket hth-test, key {server.access_key_id}")
    threading.Event().wait()
