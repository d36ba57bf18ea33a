"""Checks of CodeStar Connections / CodeConnections in the target account."""
