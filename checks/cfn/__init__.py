"""Checks of CloudFormation stacks: status in the target, drift in the source."""
