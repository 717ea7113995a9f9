"""Upload routes: POST /v2/<name>/blobs/uploads/, GET/PATCH/PUT/DELETE .../uploads/<id>."""

from api.v2._stub import not_implemented

start_upload = upload_status = patch_upload = finish_upload = cancel_upload = not_implemented
