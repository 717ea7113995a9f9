"""Docker Registry HTTP API v2 / OCI distribution-spec v1.1 routes."""
