"""Walking the demo without the app, for tests about what happens after those steps.

The app's own walk (`tests.support.pilot.walk_demo`) is the pilot test's subject;
a test about the flip or the rollback needs the steps before it done, as a
second shell's `runbook do` would do them, and then opens the app on the run.
"""

from __future__ import annotations

from runbook.demo.world import Demo
from runbook.engine import Engine
from runbook.runtime import Runtime

FIXABLE = ("fail", "error", "warn")  # what the app's `f` fixes in the demo


def walk_demo_headless(demo: Demo, *, stop_before: str) -> list[str]:
    """Do every step before `stop_before` as the app's walk does, through the engine.

    A blocked gate is fixed in the emulator where the demo can, else waived; then
    the step's action runs, confirmed. The run is closed again, so the app can
    open it. Returns the steps that were waived.
    """
    runtime = Runtime.open(demo.runbook_path)
    waived: list[str] = []
    try:
        engine = Engine(runtime)
        fixes = demo.fixes()
        for step in runtime.model.steps:
            if step.id == stop_before:
                break
            if step.after_rollback:
                continue  # skipped until a rollback
            gate = engine.run_gate(step.id)
            if not gate.passed:
                fixable = [o.check for o in gate.outcomes if o.result.status.value in FIXABLE]
                for check in fixable:
                    if check in fixes:
                        fixes[check]()
                gate = engine.run_gate(step.id)
            if not gate.passed:
                engine.waive(step.id, f"rehearsal {step.id}")
                waived.append(step.id)
            outcome = engine.do(step.id, confirmed=True)
            assert outcome.ok, (step.id, outcome.summary)
        else:
            raise AssertionError(f"no step {stop_before!r} in the demo runbook")
    finally:
        runtime.close()
    return waived
