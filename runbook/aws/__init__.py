"""AWS access: the session factory, the read-only guard, redaction and error helpers."""
