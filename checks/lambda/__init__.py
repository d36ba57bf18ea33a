"""Checks of the target's Lambda functions: the user-migration trigger's health.

`lambda` is a keyword, so nothing imports this package with `import` syntax; the
registry imports it by name (importlib), which is how its ids (`lambda.<name>`)
match the module path.
"""
