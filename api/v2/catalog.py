"""GET /v2/_catalog."""

from api.v2._stub import not_implemented

list_repositories = not_implemented
