"""hth-ctl: the operator's command line."""
