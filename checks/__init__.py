"""Built-in prechecks, one per module; the id is the module path below `checks`."""
