"""The registry's content model over a storage driver: blobs, uploads, manifests, tags."""
