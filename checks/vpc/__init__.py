"""Network prechecks: VPC address space and the ways around an overlap."""
