"""DMS's CDC metrics in the demo: the seeded history, and the feeder that keeps them coming.

The emulator's DMS task replicates nothing, so its CloudWatch metrics
(`CDCLatencySource`, `CDCLatencyTarget`, `CDCIncomingChanges`,
`CDCThroughputRowsSource`) are put here, stamped on the demo's clock, following
the world's `LagProfile`: the source sends rows while it takes writes, and none
once it is read-only. The emulator has no DescribeTableStatistics, so the
table counters the checks also read on AWS are not emulated (the checks say so).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from types import TracebackType
from typing import Any

from runbook.demo.model import DemoWorld

NAMESPACE = "AWS/DMS"
LATENCY_SOURCE, LATENCY_TARGET, INCOMING, SOURCE_ROWS = (
    "CDCLatencySource",
    "CDCLatencyTarget",
    "CDCIncomingChanges",
    "CDCThroughputRowsSource",
)
_BATCH = 500  # PutMetricData's most data points per call


def datapoints(world: DemoWorld, elapsed_s: float, *, read_only: bool) -> list[dict[str, Any]]:
    """One sample of the four CDC metrics, `elapsed_s` demo seconds after the start."""
    at = world.started_at + timedelta(seconds=elapsed_s)
    source_lag, target_lag = world.lag.latency(elapsed_s)
    incoming = world.lag.incoming(elapsed_s, read_only)
    # The source's writes, in rows per second: a sample's worth of changes over a minute,
    # nothing once it is read-only.
    rows = round(world.lag.incoming(elapsed_s, read_only) / 60.0, 1)
    dims = world.dms_dimensions
    metrics = (
        (LATENCY_SOURCE, source_lag, "Seconds"),
        (LATENCY_TARGET, target_lag, "Seconds"),
        (INCOMING, incoming, "Count"),
        (SOURCE_ROWS, rows, "Count/Second"),
    )
    return [
        {"MetricName": name, "Dimensions": dims, "Timestamp": at, "Value": value, "Unit": unit}
        for name, value, unit in metrics
    ]


def put_metric_data(world: DemoWorld, data: list[dict[str, Any]]) -> None:
    cloudwatch = world.client("target", "cloudwatch")
    for start in range(0, len(data), _BATCH):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[start : start + _BATCH])


def seed_cdc_history(world: DemoWorld) -> None:
    """The last `history_minutes` of CDC metrics: far behind, catching up."""
    profile = world.lag
    data: list[dict[str, Any]] = []
    steps = int(profile.history_minutes * 60 / profile.history_step_s)
    for i in range(steps, -1, -1):
        elapsed = -i * profile.history_step_s
        data.extend(datapoints(world, elapsed, read_only=False))
    put_metric_data(world, data)


class LagFeeder:
    """Keeps DMS's CDC metrics coming, as a running task would: a daemon thread.

    Every `interval_s` real seconds it puts one sample at the demo's clock:
    latency falling by the world's `LagProfile`, and `CDCIncomingChanges` and
    `CDCThroughputRowsSource` at zero once the source is read-only (a fix sets
    it, or the read-only step is done in the run state the world points at).
    """

    def __init__(self, world: DemoWorld, *, interval_s: float = 5.0) -> None:
        self.world = world
        self.interval_s = interval_s
        self.samples = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def tick(self) -> dict[str, float]:
        """Put one sample now; returns what was put."""
        elapsed = self.world.elapsed_s()
        read_only = self.world.refresh_read_only()
        data = datapoints(self.world, elapsed, read_only=read_only)
        put_metric_data(self.world, data)
        self.samples += 1
        return {str(d["MetricName"]): float(d["Value"]) for d in data}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
                self.last_error = None
            except Exception as exc:  # the emulator stopping under us, mostly: keep quiet
                self.last_error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.interval_s)

    def start(self) -> LagFeeder:
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="demo-lag-feeder", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> LagFeeder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
