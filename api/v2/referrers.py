"""GET /v2/<name>/referrers/<digest>."""

from api.v2._stub import not_implemented

list_referrers = not_implemented
