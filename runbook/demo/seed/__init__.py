"""Seeding the demo world: one module per AWS service.

Each `seed_*` function creates its service's part of the two-account world
through `DemoWorld.client()` and records the IDs the demo runbook names on
the world. `runbook.demo.world.seed()` calls them in dependency order.
"""
