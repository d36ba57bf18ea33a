"""Checks for leftover references to the source account."""
