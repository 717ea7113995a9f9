"""A small Aliyun OSS-protocol server for tests: the subset of OSS's published API that the oss2
SDK uses for objects, listings and multipart uploads, with OSS V1 signatures checked.

No OSS emulator exists (PyPI, npm, Debian), and oss2 cannot talk to S3 servers. Objects live in
memory. Run alone with `python -m tests.support.oss_server PORT`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.etree import ElementTree as ET

import crcmod
import pytest

from tests.support.processes import free_port

MIN_PART_SIZE = 100 * 1024
MAX_SKEW_SECONDS = 15 * 60
# Query parameters that OSS V1 signatures cover (Aliyun's "CanonicalizedResource" rules).
SUBRESOURCES = frozenset(
    "acl uploads location cors logging website referer lifecycle delete append tagging "
    "objectMeta uploadId partNumber security-token position img style styleName replication "
    "replicationProgress replicationLocation cname bucketInfo comp qos live status vod "
    "startTime endTime symlink x-oss-process response-content-type response-content-language "
    "response-expires response-cache-control response-content-disposition "
    "response-content-encoding udf udfName udfImage udfId udfImageDesc udfApplication "
    "udfApplicationLog restore callback callback-var continuation-token versionId versioning "
    "versions policy requestPayment encryption stat inventory inventoryId worm wormId "
    "wormExtend x-oss-traffic-limit x-oss-request-payer sequential".split()
)
_crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


class OSSError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


@dataclass
class Blob:
    data: bytes
    kind: str = "Normal"
    etag: str = ""
    content_type: str = "application/octet-stream"
    encryption: str = ""
    mtime: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.etag = self.etag or hashlib.md5(self.data).hexdigest().upper()

    @property
    def crc(self) -> str:
        return str(_crc64(self.data))


@dataclass
class Upload:
    key: str
    upload_id: str
    encryption: str
    initiated: float = field(default_factory=time.time)
    parts: dict[int, Blob] = field(default_factory=dict)


@dataclass
class Bucket:
    objects: dict[str, Blob] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class OSSServer:
    """The server in a background thread; `requests` records (method, key, subresources)."""

    def __init__(self, buckets: tuple[str, ...] = ("hth-test",), port: int = 0) -> None:
        self.access_key_id = "hth-test-key-id"
        self.access_key_secret = "hth-test-key-secret"
        self.buckets = {name: Bucket() for name in buckets}
        self.port = port or free_port()
        self.copy_limit = 1024**3  # CopyObject refuses larger sources: use UploadPartCopy
        self.requests: list[tuple[str, str, frozenset[str]]] = []
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
            _check_skew(date)
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
            upload = _upload(bucket, req)
            if "x-oss-copy-source" in req.headers:
                return upload_part_copy(req, upload, self._copy_source(req))
            return put_part(upload, int(q["partNumber"]), req.body)
        if method == "PUT" and "x-oss-copy-source" in req.headers:
            source = self._copy_source(req)
            if len(source.data) > self.copy_limit:
                raise OSSError(400, "InvalidRequest", "The source object is too large to copy.")
            return copy_object(req, bucket, source)
        if method == "PUT" and not q.keys() & SUBRESOURCES:
            return put_object(req, bucket)
        if method == "GET" and "uploadId" in q:
            return 200, {}, list_parts(req, _upload(bucket, req))
        if method in ("GET", "HEAD") and not q.keys() & SUBRESOURCES:
            return get_object(req, _object(bucket, req.key))
        if method == "DELETE" and "uploadId" in q:
            _upload(bucket, req)
            del bucket.uploads[q["uploadId"]]
            return 204, {}, b""
        if method == "DELETE" and not q.keys() & SUBRESOURCES:
            bucket.objects.pop(req.key, None)
            return 204, {}, b""
        if method == "POST" and "uploads" in q:
            return initiate_upload(req, bucket)
        if method == "POST" and "uploadId" in q:
            return complete_upload(req, bucket, _upload(bucket, req))
        raise OSSError(400, "NotImplemented", f"{method} {sorted(q)} is not implemented here.")

    def _copy_source(self, req: Request) -> Blob:
        source = unquote(req.headers["x-oss-copy-source"]).lstrip("/")
        bucket_name, _, key = source.partition("/")
        if bucket_name not in self.buckets:
            raise OSSError(404, "NoSuchBucket", "The specified bucket does not exist.")
        return _object(self.buckets[bucket_name], key)


def string_to_sign(req: Request, date: str) -> str:
    """OSS V1: VERB, Content-MD5, Content-Type, Date, then x-oss-* headers and the resource."""
    oss_headers = sorted((k, v) for k, v in req.headers.items() if k.startswith("x-oss-"))
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in oss_headers)
    resource = f"/{req.bucket}/{req.key}" if req.bucket else "/"
    subresources = sorted((k, v) for k, v in req.query.items() if k in SUBRESOURCES)
    if subresources:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in subresources)
    return "\n".join(
        [
            req.method,
            req.headers.get("content-md5", ""),
            req.headers.get("content-type", ""),
            date,
            canonical_headers + resource,
        ]
    )


def _check_skew(date: str) -> None:
    try:
        sent = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        raise OSSError(403, "AccessDenied", "Date header is invalid.") from None
    if abs(sent - time.time()) > MAX_SKEW_SECONDS:
        raise OSSError(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )


def _object(bucket: Bucket, key: str) -> Blob:
    if key not in bucket.objects:
        raise OSSError(404, "NoSuchKey", "The specified key does not exist.", Key=key)
    return bucket.objects[key]


def _upload(bucket: Bucket, req: Request) -> Upload:
    upload = bucket.uploads.get(req.query["uploadId"])
    if upload is None or upload.key != req.key:
        raise OSSError(404, "NoSuchUpload", "The specified upload does not exist.")
    return upload


def _encryption(req: Request) -> str:
    value = req.headers.get("x-oss-server-side-encryption", "")
    if value not in ("", "AES256", "KMS", "SM4"):
        raise OSSError(400, "InvalidEncryptionAlgorithmError", f"Unsupported encryption {value}.")
    return value


def _blob_headers(blob: Blob) -> dict[str, str]:
    headers = {"ETag": f'"{blob.etag}"', "x-oss-hash-crc64ecma": blob.crc}
    if blob.encryption:
        headers["x-oss-server-side-encryption"] = blob.encryption
    return headers


# -- objects ------------------------------------------------------------------------------


def put_object(req: Request, bucket: Bucket) -> tuple[int, dict[str, str], bytes]:
    content_type = req.headers.get("content-type", "application/octet-stream")
    blob = Blob(req.body, content_type=content_type, encryption=_encryption(req))
    bucket.objects[req.key] = blob
    return 200, _blob_headers(blob), b""


def get_object(req: Request, blob: Blob) -> tuple[int, dict[str, str], bytes]:
    headers = {
        **_blob_headers(blob),
        "Content-Type": blob.content_type,
        "Last-Modified": formatdate(blob.mtime, usegmt=True),
        "x-oss-object-type": blob.kind,
        "Accept-Ranges": "bytes",
    }
    span = _range(req.headers.get("range", ""), len(blob.data))
    if span is None:
        if req.headers.get("range") and req.headers.get("x-oss-range-behavior") == "standard":
            raise OSSError(416, "InvalidRange", "The requested range cannot be satisfied.")
        return 200, headers, blob.data  # OSS ignores an invalid range unless told otherwise
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{len(blob.data)}"
    return 206, headers, blob.data[start : end + 1]


def _range(value: str, size: int) -> tuple[int, int] | None:
    """The (start, end) of a single `bytes=a-b` range, None when absent or not satisfiable."""
    if not value.startswith("bytes=") or "," in value:
        return None
    first, _, last = value[6:].partition("-")
    try:
        if not first:
            start, end = max(size - int(last), 0), size - 1
        else:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    return (start, end) if 0 <= start <= end < size else None


def copy_object(req: Request, bucket: Bucket, source: Blob) -> tuple[int, dict[str, str], bytes]:
    blob = Blob(source.data, source.kind, source.etag, source.content_type, _encryption(req))
    bucket.objects[req.key] = blob
    body = _xml(
        "CopyObjectResult", [("LastModified", _iso(blob.mtime)), ("ETag", f'"{blob.etag}"')]
    )
    return 200, _blob_headers(blob), body


def delete_multiple(req: Request, bucket: Bucket) -> bytes:
    if "content-md5" not in req.headers:
        raise OSSError(400, "MissingArgument", "Missing Some Required Arguments.")
    try:
        root = ET.fromstring(req.body)
    except ET.ParseError:
        raise OSSError(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    keys = [node.findtext("Key", "") for node in root.findall("Object")]
    if not keys or len(keys) > 1000:
        raise OSSError(400, "MalformedXML", "Between 1 and 1000 keys may be deleted at once.")
    for key in keys:
        bucket.objects.pop(key, None)
    encode = _encoder(req)
    quiet = root.findtext("Quiet", "false") == "true"
    deleted = [] if quiet else [("Deleted", [("Key", encode(k))]) for k in keys]
    return _xml(
        "DeleteResult", [("EncodingType", "url")] * ("encoding-type" in req.query) + deleted
    )


# -- listings -----------------------------------------------------------------------------


def list_objects(req: Request, bucket: Bucket) -> bytes:
    """ListObjectsV2 (list-type=2, continuation tokens) or V1 (markers)."""
    q, v2 = req.query, req.query.get("list-type") == "2"
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    max_keys = min(int(q.get("max-keys") or 100), 1000)
    if v2:
        token = q.get("continuation-token", "")
        after = base64.urlsafe_b64decode(token).decode() if token else q.get("start-after", "")
    else:
        after = q.get("marker", "")
    items, truncated = _page(sorted(bucket.objects), prefix, delimiter, after, max_keys)
    encode = _encoder(req)
    nodes: list[tuple[str, Any]] = [("Name", req.bucket), ("Prefix", encode(prefix))]
    nodes += [("MaxKeys", str(max_keys)), ("Delimiter", encode(delimiter))]
    nodes += [("EncodingType", "url")] * ("encoding-type" in q) + [
        ("IsTruncated", _bool(truncated))
    ]
    if truncated:
        last = items[-1]
        if v2:
            token = base64.urlsafe_b64encode(last.encode()).decode()
            nodes.append(("NextContinuationToken", token))
        else:
            nodes.append(("NextMarker", encode(last)))
    if v2:
        nodes.append(("KeyCount", str(len(items))))
    for item in items:
        if item in bucket.objects and not (delimiter and item.endswith(delimiter)):
            nodes.append(("Contents", _contents(encode(item), bucket.objects[item])))
        else:
            nodes.append(("CommonPrefixes", [("Prefix", encode(item))]))
    return _xml("ListBucketResult", nodes)


def _page(
    keys: list[str], prefix: str, delimiter: str, after: str, max_keys: int
) -> tuple[list[str], bool]:
    """Keys and common prefixes after `after`, at most `max_keys`, and whether more remain."""
    items: list[str] = []
    for key in keys:
        if not key.startswith(prefix) or key <= after:
            continue
        if delimiter and after.endswith(delimiter) and key.startswith(after):
            continue  # inside a common prefix already returned
        item = key
        if delimiter and delimiter in key[len(prefix) :]:
            cut = key.index(delimiter, len(prefix)) + len(delimiter)
            item = key[:cut]
            if items and items[-1] == item:
                continue
        if len(items) == max_keys:
            return items, True
        items.append(item)
    return items, False


def _contents(key: str, blob: Blob) -> list[tuple[str, Any]]:
    return [
        ("Key", key),
        ("LastModified", _iso(blob.mtime)),
        ("ETag", f'"{blob.etag}"'),
        ("Type", blob.kind),
        ("Size", str(len(blob.data))),
        ("StorageClass", "Standard"),
    ]


def list_uploads(req: Request, bucket: Bucket) -> bytes:
    q = req.query
    prefix, key_marker = q.get("prefix", ""), q.get("key-marker", "")
    id_marker, limit = q.get("upload-id-marker", ""), min(int(q.get("max-uploads") or 1000), 1000)
    uploads = sorted(bucket.uploads.values(), key=lambda u: (u.key, u.upload_id))
    chosen = [
        u
        for u in uploads
        if u.key.startswith(prefix) and (u.key, u.upload_id) > (key_marker, id_marker)
    ]
    page, truncated = chosen[:limit], len(chosen) > limit
    encode = _encoder(req)
    last = page[-1] if truncated else None
    nodes: list[tuple[str, Any]] = [
        ("Bucket", req.bucket),
        ("EncodingType", "url"),
        ("KeyMarker", encode(key_marker)),
        ("UploadIdMarker", id_marker),
        ("NextKeyMarker", encode(last.key) if last else ""),
        ("NextUploadIdMarker", last.upload_id if last else ""),
        ("Delimiter", ""),
        ("Prefix", encode(prefix)),
        ("MaxUploads", str(limit)),
        ("IsTruncated", _bool(truncated)),
    ]
    for u in page:
        fields = [
            ("Key", encode(u.key)),
            ("UploadId", u.upload_id),
            ("Initiated", _iso(u.initiated)),
        ]
        nodes.append(("Upload", fields))
    return _xml("ListMultipartUploadsResult", nodes)


# -- multipart ----------------------------------------------------------------------------


def initiate_upload(req: Request, bucket: Bucket) -> tuple[int, dict[str, str], bytes]:
    upload = Upload(req.key, uuid.uuid4().hex.upper(), _encryption(req))
    bucket.uploads[upload.upload_id] = upload
    fields = [("Bucket", req.bucket), ("Key", req.key), ("UploadId", upload.upload_id)]
    return 200, {}, _xml("InitiateMultipartUploadResult", fields)


def put_part(upload: Upload, number: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    if not 1 <= number <= 10000:
        raise OSSError(400, "InvalidArgument", "Part number must be between 1 and 10000.")
    upload.parts[number] = Blob(data)
    return 200, _blob_headers(upload.parts[number]), b""


def upload_part_copy(
    req: Request, upload: Upload, source: Blob
) -> tuple[int, dict[str, str], bytes]:
    data = source.data
    wanted = req.headers.get("x-oss-copy-source-range")
    if wanted:
        span = _range(wanted, len(data))
        if span is None:
            raise OSSError(416, "InvalidRange", "The requested range cannot be satisfied.")
        data = data[span[0] : span[1] + 1]
    _, headers, _ = put_part(upload, int(req.query["partNumber"]), data)
    part = upload.parts[int(req.query["partNumber"])]
    body = _xml("CopyPartResult", [("LastModified", _iso(part.mtime)), ("ETag", f'"{part.etag}"')])
    return 200, headers, body


def complete_upload(
    req: Request, bucket: Bucket, upload: Upload
) -> tuple[int, dict[str, str], bytes]:
    try:
        root = ET.fromstring(req.body)
    except ET.ParseError:
        raise OSSError(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    wanted = [
        (int(p.findtext("PartNumber", "0")), p.findtext("ETag", "").strip('"'))
        for p in root.findall("Part")
    ]
    numbers = [n for n, _ in wanted]
    if not wanted or numbers != sorted(set(numbers)):
        raise OSSError(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
    parts = []
    for number, etag in wanted:
        part = upload.parts.get(number)
        if part is None or part.etag != etag.upper():
            raise OSSError(400, "InvalidPart", f"Part {number} was not found or its ETag differs.")
        parts.append(part)
    if any(len(p.data) < MIN_PART_SIZE for p in parts[:-1]):
        raise OSSError(
            400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size."
        )
    digest = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in parts)).hexdigest().upper()
    blob = Blob(
        b"".join(p.data for p in parts),
        "Multipart",
        f"{digest}-{len(parts)}",
        encryption=upload.encryption,
    )
    bucket.objects[req.key] = blob
    del bucket.uploads[upload.upload_id]
    fields = [("EncodingType", "url"), ("Location", f"/{req.bucket}/{req.key}")]
    fields += [("Bucket", req.bucket), ("Key", quote(req.key, safe="")), ("ETag", f'"{blob.etag}"')]
    return 200, _blob_headers(blob), _xml("CompleteMultipartUploadResult", fields)


def list_parts(req: Request, upload: Upload) -> bytes:
    marker = int(req.query.get("part-number-marker") or 0)
    limit = min(int(req.query.get("max-parts") or 1000), 1000)
    numbers = sorted(n for n in upload.parts if n > marker)
    page, truncated = numbers[:limit], len(numbers) > limit
    nodes: list[tuple[str, Any]] = [
        ("Bucket", req.bucket),
        ("Key", req.key),
        ("UploadId", upload.upload_id),
        ("PartNumberMarker", str(marker)),
        ("NextPartNumberMarker", str(page[-1]) if page else ""),
        ("MaxParts", str(limit)),
        ("IsTruncated", _bool(truncated)),
    ]
    for n in page:
        part = upload.parts[n]
        nodes.append(
            (
                "Part",
                [
                    ("PartNumber", str(n)),
                    ("LastModified", _iso(part.mtime)),
                    ("ETag", f'"{part.etag}"'),
                    ("Size", str(len(part.data))),
                ],
            )
        )
    return _xml("ListPartsResult", nodes)


# -- HTTP plumbing ------------------------------------------------------------------------


def _xml(root: str, children: list[tuple[str, Any]]) -> bytes:
    def build(parent: ET.Element, items: list[tuple[str, Any]]) -> None:
        for tag, value in items:
            node = ET.SubElement(parent, tag)
            if isinstance(value, list):
                build(node, value)
            else:
                node.text = value

    element = ET.Element(root)
    build(element, children)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element)


def _encoder(req: Request) -> Any:
    if req.query.get("encoding-type") == "url":
        return lambda text: quote(text, safe="")
    return lambda text: text


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


def _bool(value: bool) -> str:
    return "true" if value else "false"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up (tests cut connections on purpose) is not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
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
            status, headers, body = exc.status, {}, _error_body(exc, request_id)
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
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    return b"".join(chunks)
                chunks.append(chunk)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


def _error_body(exc: OSSError, request_id: str) -> bytes:
    fields = [("Code", exc.code), ("Message", exc.message), ("RequestId", request_id)]
    fields += [("HostId", "127.0.0.1")] + list(exc.extra.items())
    return _xml("Error", fields)


@pytest.fixture(scope="session")
def oss_server() -> Iterator[OSSServer]:
    """One OSS test server for the whole session; tests isolate themselves by bucket."""
    server = OSSServer().start()
    try:
        yield server
    finally:
        server.thaw()
        server.stop()


def conformance_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for the shared driver conformance suite: a fresh bucket, 1 MiB parts."""
    server: OSSServer = request.getfixturevalue("oss_server")
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
