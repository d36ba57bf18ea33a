"""Checks of S3 cross-account replication."""
