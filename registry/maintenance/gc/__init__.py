"""Garbage collection: scan, mark, plan, sweep and the result (docs/gc.md); `collect` runs it."""
