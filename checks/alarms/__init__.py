"""Checks of CloudWatch alarms and where they notify."""
