"""The tamper-evident audit log: typed records, the writer and verification."""
