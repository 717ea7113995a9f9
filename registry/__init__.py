"""hth-registry core: configuration, storage drivers, content model and maintenance algorithms."""
