"""Authentication and authorization of the HTTP API: the token endpoint, the /v2 access
check, the admin check of /api/v1, and request limits."""
