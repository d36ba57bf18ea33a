"""Route 53 cutover: records, the snapshot, the flip and the one rollback."""
