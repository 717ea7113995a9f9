"""Backups: take (snapshot, copy, store, manifest), verify, prune, export and restore;
docs/backups.md says how."""
