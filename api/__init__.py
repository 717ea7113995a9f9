"""The HTTP face of hth-registry: /v2/ registry API, /api/v1/ management, health."""
