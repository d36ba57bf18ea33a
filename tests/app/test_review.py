"""The review screen opens any log: duplicated seqs, a flipped byte, a torn tail."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from runbook.audit.log import AuditLog
from screens.app import build_app
from screens.review import ReviewScreen


def write_log(path: Path, count: int = 4) -> list[bytes]:
    log = AuditLog(path, run_id="r", environment="rehearsal", operator={"local_user": "a"})
    for n in range(count):
        log.record("test.event", step="s", n=n, summary=f"record {n}")
    log.close()
    return path.read_bytes().splitlines(keepends=True)


def duplicated(lines: list[bytes]) -> bytes:
    return b"".join([*lines[:3], lines[2], *lines[3:]])  # seq 3 twice, as two stale writers did


def flipped(lines: list[bytes]) -> bytes:
    return b"".join([*lines[:1], lines[1].replace(b"record 1", b"record 7"), *lines[2:]])


def torn(lines: list[bytes]) -> bytes:
    return b"".join(lines) + b'{"seq": 5, "ti'


@pytest.mark.parametrize(
    ("damage", "verdict", "rows"),
    [(duplicated, "broken at seq 3", 5), (flipped, "broken at seq 2", 4), (torn, "torn tail", 4)],
)
async def test_review_shows_a_broken_log_instead_of_crashing(
    tmp_path: Path, damage: object, verdict: str, rows: int
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(damage(write_log(path)))  # type: ignore[operator]
    app = build_app(review_path=path)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(50):
            await pilot.pause(0.05)
            table = app.screen.query_one("#timeline", DataTable)
            if table.row_count:
                break
        assert isinstance(app.screen, ReviewScreen)
        text = str(app.screen.query_one("#verdict", Static).render())
        assert verdict in text
        assert table.row_count == rows  # every readable record is still on the timeline
        for _ in range(rows):  # walking every row shows its record, duplicates included
            await pilot.press("down")
        assert "record" in str(app.screen.query_one("#record", Static).render())
