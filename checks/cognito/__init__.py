"""Cognito user-migration checks: the trigger wiring and how far migration has got."""
