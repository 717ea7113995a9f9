"""The Aliyun OSS protocol for the test server: its state, V1 string-to-sign, and the object,
listing and multipart operations as Aliyun's API reference describes them.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

import crcmod

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
    meta: dict[str, str] = field(default_factory=dict)  # x-oss-meta-* headers, lowercase
    _crc: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        self.etag = self.etag or hashlib.md5(self.data).hexdigest().upper()

    @property
    def crc(self) -> str:
        if not self._crc:  # computed once: objects never change in place
            self._crc = str(_crc64(self.data))
        return self._crc


@dataclass
class Upload:
    key: str
    upload_id: str
    encryption: str
    initiated: float = field(default_factory=time.time)
    parts: dict[int, Blob] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)  # given to the completed object


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


def check_skew(date: str) -> None:
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


def find_object(bucket: Bucket, key: str) -> Blob:
    if key not in bucket.objects:
        raise OSSError(404, "NoSuchKey", "The specified key does not exist.", Key=key)
    return bucket.objects[key]


def find_upload(bucket: Bucket, req: Request) -> Upload:
    upload = bucket.uploads.get(req.query["uploadId"])
    if upload is None or upload.key != req.key:
        raise OSSError(404, "NoSuchUpload", "The specified upload does not exist.")
    return upload


def _encryption(req: Request) -> str:
    value = req.headers.get("x-oss-server-side-encryption", "")
    if value not in ("", "AES256", "KMS", "SM4"):
        raise OSSError(400, "InvalidEncryptionAlgorithmError", f"Unsupported encryption {value}.")
    return value


def _user_meta(req: Request) -> dict[str, str]:
    """The request's user metadata: OSS keeps `x-oss-meta-*` headers with the object."""
    return {k: v for k, v in req.headers.items() if k.startswith("x-oss-meta-")}


def _blob_headers(blob: Blob) -> dict[str, str]:
    headers = {"ETag": f'"{blob.etag}"', "x-oss-hash-crc64ecma": blob.crc}
    if blob.encryption:
        headers["x-oss-server-side-encryption"] = blob.encryption
    return headers


# -- objects ------------------------------------------------------------------------------


def put_object(req: Request, bucket: Bucket) -> tuple[int, dict[str, str], bytes]:
    content_type = req.headers.get("content-type", "application/octet-stream")
    blob = Blob(
        req.body, content_type=content_type, encryption=_encryption(req), meta=_user_meta(req)
    )
    bucket.objects[req.key] = blob
    return 200, _blob_headers(blob), b""


def get_object(req: Request, blob: Blob) -> tuple[int, dict[str, str], bytes]:
    headers = {
        **_blob_headers(blob),
        **blob.meta,
        "Content-Type": blob.content_type,
        "Last-Modified": formatdate(blob.mtime, usegmt=True),
        "x-oss-object-type": blob.kind,
        "Accept-Ranges": "bytes",
    }
    span = byte_range(req.headers.get("range", ""), len(blob.data))
    if span is None:
        if req.headers.get("range") and req.headers.get("x-oss-range-behavior") == "standard":
            raise OSSError(416, "InvalidRange", "The requested range cannot be satisfied.")
        return 200, headers, blob.data  # OSS ignores an invalid range unless told otherwise
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{len(blob.data)}"
    return 206, headers, blob.data[start : end + 1]


def byte_range(value: str, size: int) -> tuple[int, int] | None:
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
    # x-oss-metadata-directive: COPY (the default) keeps the source's metadata, REPLACE
    # takes the request's.
    replace = req.headers.get("x-oss-metadata-directive", "COPY").upper() == "REPLACE"
    blob.meta = _user_meta(req) if replace else dict(source.meta)
    bucket.objects[req.key] = blob
    body = xml_document(
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
    return xml_document(
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
    return xml_document("ListBucketResult", nodes)


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
    return xml_document("ListMultipartUploadsResult", nodes)


# -- multipart ----------------------------------------------------------------------------


def initiate_upload(req: Request, bucket: Bucket) -> tuple[int, dict[str, str], bytes]:
    upload = Upload(req.key, uuid.uuid4().hex.upper(), _encryption(req), meta=_user_meta(req))
    bucket.uploads[upload.upload_id] = upload
    fields = [("Bucket", req.bucket), ("Key", req.key), ("UploadId", upload.upload_id)]
    return 200, {}, xml_document("InitiateMultipartUploadResult", fields)


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
        span = byte_range(wanted, len(data))
        if span is None:
            raise OSSError(416, "InvalidRange", "The requested range cannot be satisfied.")
        data = data[span[0] : span[1] + 1]
    _, headers, _ = put_part(upload, int(req.query["partNumber"]), data)
    part = upload.parts[int(req.query["partNumber"])]
    body = xml_document(
        "CopyPartResult", [("LastModified", _iso(part.mtime)), ("ETag", f'"{part.etag}"')]
    )
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
        meta=upload.meta,
    )
    bucket.objects[req.key] = blob
    del bucket.uploads[upload.upload_id]
    fields = [("EncodingType", "url"), ("Location", f"/{req.bucket}/{req.key}")]
    fields += [("Bucket", req.bucket), ("Key", quote(req.key, safe="")), ("ETag", f'"{blob.etag}"')]
    return 200, _blob_headers(blob), xml_document("CompleteMultipartUploadResult", fields)


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
                    ("HashCrc64ecma", part.crc),
                    ("Size", str(len(part.data))),
                ],
            )
        )
    return xml_document("ListPartsResult", nodes)


# -- XML ---------------------------------------------------------------------------------


def xml_document(root: str, children: list[tuple[str, Any]]) -> bytes:
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


def error_body(exc: OSSError, request_id: str) -> bytes:
    fields = [("Code", exc.code), ("Message", exc.message), ("RequestId", request_id)]
    fields += [("HostId", "127.0.0.1")] + list(exc.extra.items())
    return xml_document("Error", fields)
