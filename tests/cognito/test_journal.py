"""Force-migration's files: torn lines dropped on reopen, in-flight users, derived lists."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from runbook.cognito.journal import (
    CHECKPOINT_FILE,
    MAP_FILE,
    MAP_HEADER,
    TOTP_FILE,
    Row,
    StateFiles,
    begin_line,
    exists_line,
)


def files(tmp_path: Path, *, dry_run: bool = False) -> StateFiles:
    return StateFiles(
        tmp_path, source_pool="us-east-1_a", target_pool="us-east-1_b", dry_run=dry_run
    )


def test_torn_rows_are_dropped_and_in_flight_users_found(tmp_path: Path) -> None:
    state = files(tmp_path)
    checkpoint, resumed = state.load_checkpoint()
    assert not resumed and checkpoint["page"] == 0
    sub_map, journal = state.open_sub_map(), state.open_journal()
    assert journal is not None
    checkpoint["map_offset"], checkpoint["journal_offset"] = sub_map.size(), journal.size()
    state.save(checkpoint)
    now = time.time()
    for name in ("ann", "bob", "cy"):
        journal.append(begin_line(name, now), sync=True)
    journal.append(exists_line("bob"), sync=True)
    sub_map.append(Row("ann", "s1", "t1", "created", ["staff"], {"totp"}).line(), sync=True)
    sub_map.close()
    journal.close()
    with open(state.map_path, "ab") as handle:
        handle.write(b"cy,s3,t3,crea")  # a crash mid-line: never acknowledged

    again = files(tmp_path)
    saved, resumed = again.load_checkpoint()
    assert resumed and saved == checkpoint
    again.open_sub_map().close()  # reopening drops the torn row
    with open(again.map_path, encoding="utf-8", newline="") as handle:
        assert [tuple(r) for r in csv.reader(handle)] == [
            MAP_HEADER,
            ("ann", "s1", "t1", "created", "staff", "totp", ""),
        ]
    done, half_made = again.in_flight(saved)
    assert done == {"ann"} and set(half_made) == {"cy"}  # bob was someone else's
    assert again.write_lists(samples=50) == ["ann"]
    assert (tmp_path / TOTP_FILE).read_text() == "ann\n"


def test_a_finished_pass_is_kept_under_a_dated_name(tmp_path: Path) -> None:
    state = files(tmp_path)
    checkpoint, _ = state.load_checkpoint()
    state.open_sub_map().close()
    state.save({**checkpoint, "finished": True})
    fresh, resumed = files(tmp_path).load_checkpoint()
    assert not resumed and fresh["page"] == 0
    assert not (tmp_path / MAP_FILE).exists() and not (tmp_path / CHECKPOINT_FILE).exists()
    assert len(list(tmp_path.glob(MAP_FILE + ".*"))) == 1
    assert len(list(tmp_path.glob(CHECKPOINT_FILE + ".*"))) == 1


def test_a_dry_run_has_no_journal_and_its_own_names(tmp_path: Path) -> None:
    state = files(tmp_path, dry_run=True)
    assert state.open_journal() is None
    assert state.map_path.name == MAP_FILE + ".dry-run"
    assert state.list_paths["totp_users"].name == TOTP_FILE + ".dry-run"
