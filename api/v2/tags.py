"""GET /v2/<name>/tags/list."""

from api.v2._stub import not_implemented

list_tags = not_implemented
