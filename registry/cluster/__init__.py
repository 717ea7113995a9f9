"""Cluster coordination (DESIGN §5): registry instances heartbeat, tasks hold the storage lease."""
