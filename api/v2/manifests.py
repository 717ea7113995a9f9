"""Manifest routes: GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>."""

from api.v2._stub import not_implemented

get_manifest = head_manifest = put_manifest = delete_manifest = not_implemented
