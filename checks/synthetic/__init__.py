"""Synthetic transactions against the workload, outside AWS APIs."""
