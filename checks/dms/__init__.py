"""DMS prechecks: the replication task, its source, its network path, its lag."""
