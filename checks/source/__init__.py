"""Prechecks about the live source, read through DMS and CloudWatch (never written)."""
