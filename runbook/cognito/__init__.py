"""Cognito user migration: attributes, pacing, the journal and force-migration."""
