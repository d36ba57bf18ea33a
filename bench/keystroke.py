"""2. Keystroke to rollback request on the wire, and the event loop's longest stall.

The app is built as the CLI builds it (`screens.app.build_app(runtime=...)`)
and driven headless by Textual's pilot. The first step's gate holds ten slow
checks: each polls `sts:GetCallerIdentity` every 100 ms until released, as a
check that waits on a slowly converging metric does. The emulator runs in a
process of its own, so its request handling does not compete with the app for
this interpreter's GIL.

Keystroke: `ctrl+r` opens the confirmation; the clock starts when the `y` key
event is handed to the app's driver and stops in a botocore `before-send`
handler on the rollback's `ChangeResourceRecordSets`, the moment the request
goes to the socket. That span holds the key's dispatch, the worker start, the
fsynced `rollback.intent` record, a new Route 53 client and the fsynced batch
file. Measured with the ten checks running and with the app idle, alternately.
(The client is built while the question is open, `Runtime.prepare_rollback`;
the bench presses `y` as soon as the question shows, so a build still under
way is waited for and counted.)

Stall: a task on the app's event loop sleeps 5 ms again and again and keeps
the largest overshoot, over a window in which the ten checks start, poll for
three seconds and finish (their results handled and drawn), against a window
of the same length with the app idle.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from textual.message import Message

from bench.common import (
    Measure,
    Options,
    Report,
    environ_applied,
    external_emulator,
    goal_line,
    log,
    ratio_line,
)
from runbook.aws.session import build_session
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult, NoParams
from runbook.dns.records import read_record_sets
from runbook.engine import Engine
from runbook.model import Account, CheckRef
from runbook.registry import CheckEntry, CheckRegistry
from runbook.runtime import Runtime
from runbook.state import StepStatus
from screens.app import RunbookApp, build_app
from screens.confirm import ConfirmScreen
from screens.messages import GateFinished, GateStarted, RollbackFinished
from tests.support import dnsworld as w
from tests.support.runbooks import REGION, TARGET

SLOW_CHECKS = 10
POLL_S = 0.1
TICK_S = 0.005
STEP = "verify-accounts"


class SlowCheck(Check[NoParams]):
    meta: ClassVar[CheckMeta] = CheckMeta(
        id="bench.slow",
        title="Polls until released",
        account="target",
        iam_actions=("sts:GetCallerIdentity",),
        remediation="none: a benchmark check",
    )
    release: ClassVar[threading.Event] = threading.Event()

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        sts = ctx.client("target", "sts")
        polls = 0
        give_up = time.monotonic() + 120
        while not self.release.wait(POLL_S) and time.monotonic() < give_up:
            sts.get_caller_identity()
            polls += 1
        return CheckResult.passed(f"{polls} polls")


class Messages:
    """The few messages the bench waits on. Kept by kind: holding every message would
    hold every screen they name, and grow the heap the app's collections walk."""

    KINDS = (GateStarted, GateFinished, RollbackFinished)

    def __init__(self) -> None:
        self.seen: list[Message] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, self.KINDS):
            self.seen.append(message)

    def count(self, kind: type[Message]) -> int:
        return sum(isinstance(m, kind) for m in self.seen)

    def last(self, kind: type[Message]) -> Any:
        return next(m for m in reversed(self.seen) if isinstance(m, kind))


class LoopMonitor:
    """Sleeps TICK_S on the loop, over and over; keeps the worst overshoot while armed.

    Also times the full (generation 2) garbage collections that run while armed:
    they stop every thread, the loop included, whatever else is running.
    """

    def __init__(self) -> None:
        self.worst = 0.0
        self.armed = False
        self.stopped = False
        self.full_gcs: list[float] = []
        self._gc_began = 0.0

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._gc_began = time.perf_counter()
        elif self.armed:
            self.full_gcs.append(time.perf_counter() - self._gc_began)

    async def run(self) -> None:
        while not self.stopped:
            begun = time.perf_counter()
            await asyncio.sleep(TICK_S)
            late = time.perf_counter() - begun - TICK_S
            if self.armed and late > self.worst:
                self.worst = late

    def arm(self) -> None:
        self.worst = 0.0
        self.armed = True

    def disarm(self) -> float:
        self.armed = False
        return self.worst


@dataclass
class World:
    runtime: Runtime
    session: Any
    zone: str
    wire: list[float] = field(default_factory=list)
    began: list[float] = field(default_factory=list)  # the rollback's worker calling it
    to_worker: list[float] = field(default_factory=list)  # key to that call


def _build(directory: Path) -> World:
    session = build_session(Account(account_id=TARGET, region=REGION), read_only=False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    path = w.runbook_file(directory, zone, "simple")
    registry = CheckRegistry.discover()
    registry.entries[SlowCheck.meta.id] = CheckEntry(
        SlowCheck.meta.id, "bench", __name__, SlowCheck
    )
    runtime = Runtime.open(path, registry=registry)
    engine = Engine(runtime)
    for step in ("verify-accounts", "lower-ttl", "flip-dns"):
        if not engine.run_gate(step).passed or not engine.do(step, confirmed=True).ok:
            raise RuntimeError(f"could not walk {step}")
    # Ten slow checks on the first step's gate, as a re-check during the incident.
    first = runtime.loaded.model.steps[0]
    first.checks.clear()
    for index in range(SLOW_CHECKS):
        first.checks.append(CheckRef(id=SlowCheck.meta.id))
        runtime.loaded.params[(first.id, index)] = NoParams()
    runtime.update_state(lambda state: setattr(state.step(first.id), "status", StepStatus.PENDING))
    world = World(runtime, session, zone)

    def on_send(**_kwargs: Any) -> None:
        world.wire.append(time.perf_counter())

    rollback = runtime.rollback

    def timed_rollback(**kwargs: Any) -> Any:
        world.began.append(time.perf_counter())
        return rollback(**kwargs)

    runtime.rollback = timed_rollback  # type: ignore[method-assign]

    # The rollback's client is new on every rollback and inherits the session's handlers.
    runtime.sessions.session("target").events.register(
        "before-send.route53.ChangeResourceRecordSets", on_send
    )
    return world


def _reflip(world: World) -> None:
    w.upsert(world.session, world.zone, w.simple(ttl=30, ip=w.TARGET_IP))
    now = read_record_sets(world.session.client("route53"), world.zone, w.NAME, "A")
    if now[0]["ResourceRecords"] != [{"Value": w.TARGET_IP}]:
        raise RuntimeError(f"re-flip did not take: {now}")


async def _until(condition: Any, what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@dataclass
class Figures:
    keys_busy: list[float] = field(default_factory=list)
    keys_idle: list[float] = field(default_factory=list)
    stall_busy: list[float] = field(default_factory=list)
    stall_idle: list[float] = field(default_factory=list)
    stall_keys_busy: list[float] = field(default_factory=list)
    stall_keys_idle: list[float] = field(default_factory=list)
    full_gcs: list[float] = field(default_factory=list)


async def _drive(
    app: RunbookApp, world: World, messages: Messages, key_reps: int, windows: int, window_s: float
) -> Figures:
    figures = Figures()
    monitor = LoopMonitor()
    gc.callbacks.append(monitor.on_gc)
    try:
        await _windows(app, world, messages, monitor, figures, key_reps, windows, window_s)
    finally:
        gc.callbacks.remove(monitor.on_gc)
    figures.full_gcs = list(monitor.full_gcs)
    return figures


async def _windows(
    app: RunbookApp,
    world: World,
    messages: Messages,
    monitor: LoopMonitor,
    figures: Figures,
    key_reps: int,
    windows: int,
    window_s: float,
) -> None:
    async with app.run_test(size=(120, 40), message_hook=messages) as pilot:
        ticker = asyncio.create_task(monitor.run())
        await _until(lambda: app.identity_ok is not None, "the identity check at start")
        await app.workers.wait_for_complete()
        await pilot.pause()

        async def start_checks() -> None:
            SlowCheck.release.clear()
            started = messages.count(GateStarted)
            app.run_gate(STEP)
            await _until(lambda: messages.count(GateStarted) > started, "the gate to start")

        async def finish_checks(before: int) -> None:
            SlowCheck.release.set()
            await _until(lambda: messages.count(GateFinished) > before, "the gate to finish")
            await pilot.pause()

        async def rollback_key() -> float:
            await pilot.press("ctrl+r")
            await pilot.pause()
            if not (isinstance(app.screen, ConfirmScreen) and app.screen.purpose == "rollback"):
                raise RuntimeError(f"ctrl+r did not ask to roll back: {app.screen}")
            finished, sent = messages.count(RollbackFinished), len(world.wire)
            pressed = time.perf_counter()
            await pilot.press("y")
            await _until(lambda: messages.count(RollbackFinished) > finished, "the rollback")
            result = messages.last(RollbackFinished).result
            if not result.confirmed or len(world.wire) <= sent:
                raise RuntimeError(f"rollback not confirmed: {result.message}")
            world.to_worker.append(world.began[-1] - pressed)
            return world.wire[sent] - pressed

        # Keystroke to wire, busy and idle alternately; one untimed round first.
        for rep in range(key_reps + 1):
            for busy in (True, False) if rep % 2 == 0 else (False, True):
                await asyncio.to_thread(_reflip, world)
                if busy:
                    gates = messages.count(GateFinished)
                    await start_checks()
                    await asyncio.sleep(0.3)  # all ten threads are polling
                    monitor.arm()
                    elapsed = await rollback_key()
                    stall = monitor.disarm()
                    await finish_checks(gates)
                    if rep:
                        figures.keys_busy.append(elapsed)
                        figures.stall_keys_busy.append(stall)
                else:
                    monitor.arm()
                    elapsed = await rollback_key()
                    stall = monitor.disarm()
                    if rep:
                        figures.keys_idle.append(elapsed)
                        figures.stall_keys_idle.append(stall)
            if rep:
                log(
                    f"keystroke {rep}/{key_reps}: busy {figures.keys_busy[-1] * 1e3:.1f} ms, "
                    f"idle {figures.keys_idle[-1] * 1e3:.1f} ms"
                )

        # Longest stall: checks start, poll for window_s, finish; against the app idle.
        for rep in range(windows):
            for busy in (True, False) if rep % 2 == 0 else (False, True):
                if busy:
                    gates = messages.count(GateFinished)
                    monitor.arm()
                    await start_checks()
                    await asyncio.sleep(window_s)
                    await finish_checks(gates)
                    await asyncio.sleep(0.1)
                    figures.stall_busy.append(monitor.disarm())
                else:
                    monitor.arm()
                    await asyncio.sleep(window_s + 0.2)
                    figures.stall_idle.append(monitor.disarm())
            log(
                f"stall {rep + 1}/{windows}: checks {figures.stall_busy[-1] * 1e3:.1f} ms, "
                f"idle {figures.stall_idle[-1] * 1e3:.1f} ms"
            )
        monitor.stopped = True
        await ticker


def run(options: Options) -> Report:
    key_reps = options.repetitions(full=7, quick=3)
    windows = options.repetitions(full=5, quick=2)
    window_s = 2.0 if options.quick else 3.0
    report = Report("keystroke")
    with (
        tempfile.TemporaryDirectory(prefix="bench-keystroke-") as tmp,
        external_emulator(REGION) as emu,
        environ_applied({**emu.environ, "RUNBOOK_SETTINGS": str(Path(tmp) / "no-settings.toml")}),
    ):
        world = _build(Path(tmp))
        try:
            app = build_app(runtime=world.runtime)
            figures = asyncio.run(_drive(app, world, Messages(), key_reps, windows, window_s))
        finally:
            SlowCheck.release.set()
            world.runtime.close()
    busy = Measure.of(f"key to wire, {SLOW_CHECKS} checks running", "s", figures.keys_busy)
    idle = Measure.of("key to wire, app idle", "s", figures.keys_idle)
    stall_busy = Measure.of(f"longest loop stall, {SLOW_CHECKS} checks", "s", figures.stall_busy)
    stall_idle = Measure.of("longest loop stall, idle", "s", figures.stall_idle)
    keys_busy = Measure.of("longest stall, rollback + checks", "s", figures.stall_keys_busy)
    keys_idle = Measure.of("longest stall, rollback alone", "s", figures.stall_keys_idle)
    to_worker = Measure.of("key to the rollback's worker, every round", "s", world.to_worker)
    report.measures += [busy, idle, stall_busy, stall_idle, keys_busy, keys_idle, to_worker]
    report.ratios.append(ratio_line(busy, idle, what="cost of the checks to the rollback key"))
    report.ratios.append(ratio_line(stall_busy, stall_idle, what="1 = checks never block the loop"))
    report.ratios.append(ratio_line(keys_busy, keys_idle, what="ctrl+r, y, until confirmed"))
    report.goals.append(
        goal_line(
            f"key to wire, {SLOW_CHECKS} checks running (ms)",
            busy.median * 1e3,
            "< 50",
            busy.median < 0.050,
        )
    )
    report.goals.append(
        goal_line(
            f"longest loop stall, {SLOW_CHECKS} checks (ms)",
            stall_busy.median * 1e3,
            "< 50",
            stall_busy.median < 0.050,
        )
    )
    if figures.full_gcs:
        report.notes.append(
            f"{len(figures.full_gcs)} full (gen-2) garbage collections ran in the timed windows, "
            f"the longest {max(figures.full_gcs) * 1e3:.0f} ms: each stalls the loop by itself, "
            "checks or not, and explains most outliers above"
        )
    else:
        report.notes.append("no full (gen-2) garbage collection ran in the timed windows")
    report.notes.append(
        f"{SLOW_CHECKS} checks each poll sts:GetCallerIdentity every {POLL_S * 1000:.0f} ms; "
        f"stall windows {window_s:.0f} s, loop probed every {TICK_S * 1000:.0f} ms; "
        "headless Textual (rendering done, no terminal output)"
    )
    return report
