"""The local filesystem driver: `driver` (files under a root directory, written in place)."""
