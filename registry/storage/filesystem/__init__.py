"""The local filesystem driver: `driver`, `writer` (in place), `files` (what both use)."""
