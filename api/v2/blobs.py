"""Blob routes: HEAD/GET/DELETE /v2/<name>/blobs/<digest>."""

from api.v2._stub import not_implemented

get_blob = head_blob = delete_blob = not_implemented
