"""The demo: a two-account cutover seeded into the embedded emulator, and its runbook.

`Demo` is `runbook demo` without the app: it starts the emulator and the
synthetic site, seeds the world (`seed()`, one module per service under
`runbook.demo.seed`), writes the runbook derived from the bundled playbook
(`runbook.demo.playbook`), and keeps DMS's CDC metrics moving
(`runbook.demo.lag`). `runbook.demo.fixes` tells the app how each failing
check is cleared in the demo.

Nothing here talks to anything but 127.0.0.1: the emulator and `DemoSite`,
the loopback web server the synthetic checks ask.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from runbook.demo.emulator import Emulator
from runbook.demo.fixes import FIXES, HINTS, bound_fixes
from runbook.demo.lag import LagFeeder, seed_cdc_history
from runbook.demo.model import (
    READ_ONLY_STEP,
    SOURCE_ACCOUNT,
    TARGET_ACCOUNT,
    DemoWorld,
    LagProfile,
)
from runbook.demo.playbook import DemoDirectoryError, render_runbook, write_runbook
from runbook.demo.seed.alarms import seed_alarms
from runbook.demo.seed.cfn import seed_stacks
from runbook.demo.seed.cognito import seed_cognito
from runbook.demo.seed.dms import seed_dms
from runbook.demo.seed.iam import seed_iam
from runbook.demo.seed.lambdas import seed_lambdas
from runbook.demo.seed.rds import seed_databases
from runbook.demo.seed.route53 import seed_dns
from runbook.demo.seed.s3 import seed_buckets
from runbook.demo.seed.vpc import seed_networks
from runbook.demo.site import DemoSite

__all__ = [
    "FIXES",
    "HINTS",
    "READ_ONLY_STEP",
    "SOURCE_ACCOUNT",
    "TARGET_ACCOUNT",
    "Demo",
    "DemoDirectoryError",
    "DemoSite",
    "DemoWorld",
    "LagFeeder",
    "LagProfile",
    "banner",
    "bound_fixes",
    "render_runbook",
    "seed",
    "write_runbook",
]


def seed(
    emulator: Emulator,
    *,
    users: int = 300,
    migrated_fraction: float = 0.4,
    time_scale: float = 1.0,
    lag: LagProfile | None = None,
) -> DemoWorld:
    """Create the whole two-account world in the (running) emulator; a few seconds."""
    world = DemoWorld(
        endpoint_url=emulator.endpoint_url,
        region=emulator.region,
        time_scale=time_scale,
        lag=lag or LagProfile(),
    )
    # The assume-role call behind the source's credentials reads AWS_ENDPOINT_URL.
    with emulator.applied():
        seed_iam(world)
        seed_networks(world)
        seed_databases(world)
        seed_dms(world)  # reads the databases' endpoints
        seed_dns(world)
        seed_alarms(world)
        seed_lambdas(world)
        seed_cognito(world, users, migrated_fraction)
        seed_buckets(world)
        seed_stacks(world)  # names the VPC, database, topic and pool IDs
        world.start_clock()
        seed_cdc_history(world)
    return world


def banner(world: DemoWorld) -> str:
    return (
        f"Demo: AWS is an emulator at {world.endpoint_url}; nothing leaves this machine. "
        "Some gates fail at first, as in life: f fixes a check in the emulator, "
        "w waives a gate with a reason. For commands from another shell, start the demo "
        "with `runbook demo --serve`: it prints what to export."
    )


class Demo:
    """`runbook demo` without the app: emulator, world, runbook, feeder and site.

    `with Demo(directory) as demo:` the emulator is running and this process
    points at it; `demo.runbook_path` is ready to open. Leaving stops the
    feeder, the site and the emulator and restores the environment. Only
    `directory` is written to.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        users: int = 300,
        time_scale: float = 1.0,
        feeder_interval_s: float = 5.0,
        lag: LagProfile | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.users = users
        self.time_scale = time_scale
        self.feeder_interval_s = feeder_interval_s
        self.lag = lag
        self.emulator = Emulator()
        self.site = DemoSite()
        self._world: DemoWorld | None = None
        self._feeder: LagFeeder | None = None
        self._runbook: Path | None = None

    @property
    def world(self) -> DemoWorld:
        if self._world is None:
            raise RuntimeError("the demo is not running")
        return self._world

    @property
    def feeder(self) -> LagFeeder:
        if self._feeder is None:
            raise RuntimeError("the demo is not running")
        return self._feeder

    @property
    def runbook_path(self) -> Path:
        if self._runbook is None:
            raise RuntimeError("the demo is not running")
        return self._runbook

    def fixes(self) -> dict[str, Callable[[], str]]:
        return bound_fixes(self.world)

    @property
    def hints(self) -> dict[str, str]:
        return dict(HINTS)

    @property
    def banner(self) -> str:
        return banner(self.world)

    def start(self) -> Demo:
        self.emulator.__enter__()
        try:
            self.site.start()
            world = seed(self.emulator, users=self.users, time_scale=self.time_scale, lag=self.lag)
            world.site_url = self.site.url
            self.site.follow_dns(world)  # the app's name answers from where its record points
            self._world = world
            self._runbook = write_runbook(self.directory, world)
            self._feeder = LagFeeder(world, interval_s=self.feeder_interval_s).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._feeder is not None:
            self._feeder.stop()
        self.site.stop()
        self.emulator.__exit__(None, None, None)

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
