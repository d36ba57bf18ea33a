"""Force-migration's files in the state directory: checkpoint, journal, sub map and lists.

- `cognito-force-migrate.json`, the checkpoint, replaced atomically at each page
  boundary: the token of the page being worked on and the sizes of the sub map
  and journal at its start (so the rows written since are that page's users
  already done).
- `cognito-force-migrate.journal`, append-only JSON lines: `{"begin": user, "t":
  time}` fsynced before a user is created, `{"exists": user}` when it turned
  out to be someone else's. After a crash it tells this run's users from others'.
- `cognito-sub-map.csv`, append-only: one row per user (old and new `sub`,
  outcome, groups, flags), fsynced with the checkpoint.
- the lists for people to act on (TOTP users, unfixable phone numbers, users
  without a verified contact, users without an identifier the target pool can
  use as username, SMS MFA the target could not keep), derived from the sub map
  when a pass finishes.

A dry run writes only the sub map and lists, under `*.dry-run` names.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook.durable import AppendOnlyFile, atomic_write, atomic_write_lines

MAP_FILE = "cognito-sub-map.csv"
JOURNAL_FILE = "cognito-force-migrate.journal"
CHECKPOINT_FILE = "cognito-force-migrate.json"
TOTP_FILE = "cognito-totp-users.txt"
PHONE_FILE = "cognito-phone-unfixable.txt"
NO_CONTACT_FILE = "cognito-no-verified-contact.txt"
NO_IDENTIFIER_FILE = "cognito-no-identifier.txt"
SMS_MFA_FILE = "cognito-sms-mfa-dropped.txt"
DRY_RUN_SUFFIX = ".dry-run"
# `new_username` last: a map written before it existed still reads (as "").
MAP_HEADER = ("username", "old_sub", "new_sub", "outcome", "groups", "flags", "new_username")


def _csv_line(values: tuple[str, ...] | list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


@dataclass
class Row:
    """One user's line in the sub map."""

    username: str
    old_sub: str
    new_sub: str
    outcome: str
    groups: list[str]
    flags: set[str]
    new_username: str = ""
    """The target's own username: its UUID in a pool whose username is an email or phone."""

    def line(self) -> bytes:
        return _csv_line(
            (
                self.username,
                self.old_sub,
                self.new_sub,
                self.outcome,
                ";".join(self.groups),
                ";".join(sorted(self.flags)),
                self.new_username,
            )
        )


def begin_line(username: str, at: float) -> bytes:
    """The journal line fsynced before `username` is created."""
    return json.dumps({"begin": username, "t": at}).encode("utf-8") + b"\n"


def exists_line(username: str) -> bytes:
    """The journal line for a user found to exist already: someone else's, never touched."""
    return json.dumps({"exists": username}).encode("utf-8") + b"\n"


def rows_from(path: Path, offset: int) -> Iterator[dict[str, str]]:
    """Sub-map rows from a byte offset (a line boundary), streamed."""
    if not path.exists():
        return
    with open(path, "rb") as raw:
        raw.seek(offset)  # a byte offset: seek before decoding
        handle = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        for values in csv.reader(handle):
            if len(values) == len(MAP_HEADER) - 1:
                values.append("")  # written before new_username existed
            header = values[:-1] == list(MAP_HEADER[:-1])  # either version's header
            if values and not header and len(values) == len(MAP_HEADER):
                yield dict(zip(MAP_HEADER, values, strict=True))


def journal_from(path: Path, offset: int) -> tuple[dict[str, float], set[str]]:
    """(username -> time of its `begin`, usernames found to exist) since `offset`."""
    begun: dict[str, float] = {}
    existed: set[str] = set()
    if not path.exists():
        return begun, existed
    with open(path, "rb") as handle:
        handle.seek(offset)
        for line in handle:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if "begin" in entry:
                    begun[str(entry["begin"])] = float(entry.get("t", 0.0))
                elif "exists" in entry:
                    existed.add(str(entry["exists"]))
    return begun, existed


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class StateFiles:
    """One pass's files for a pair of pools; a dry run's under `*.dry-run` names."""

    def __init__(
        self, state_dir: Path, *, source_pool: str, target_pool: str, dry_run: bool
    ) -> None:
        self.source_pool = source_pool
        self.target_pool = target_pool
        self.dry_run = dry_run
        suffix = DRY_RUN_SUFFIX if dry_run else ""
        self.map_path = state_dir / f"{MAP_FILE}{suffix}"
        self.journal_path = state_dir / JOURNAL_FILE
        self.checkpoint_path = state_dir / CHECKPOINT_FILE
        self.list_paths = {
            "totp_users": state_dir / f"{TOTP_FILE}{suffix}",
            "phone_unfixable": state_dir / f"{PHONE_FILE}{suffix}",
            "no_verified_contact": state_dir / f"{NO_CONTACT_FILE}{suffix}",
            "no_identifier": state_dir / f"{NO_IDENTIFIER_FILE}{suffix}",
            "sms_mfa_dropped": state_dir / f"{SMS_MFA_FILE}{suffix}",
        }

    # --- the checkpoint ---

    def fresh_checkpoint(self) -> dict[str, Any]:
        return {
            "version": 1,
            "source_user_pool_id": self.source_pool,
            "target_user_pool_id": self.target_pool,
            "started_at": datetime.now(UTC).isoformat(),
            "page": 0,
            "page_token": None,
            "map_offset": 0,
            "journal_offset": 0,
            "counts": {},
            "finished": False,
        }

    def load_checkpoint(self) -> tuple[dict[str, Any], bool]:
        """(where an unfinished pass over the same pools stopped, True), or (a new pass, False)."""
        if self.dry_run:
            self.map_path.unlink(missing_ok=True)
            return self.fresh_checkpoint(), False
        saved: dict[str, Any] | None = None
        if self.checkpoint_path.exists():
            saved = json.loads(self.checkpoint_path.read_bytes())
        same_pools = saved is not None and (
            saved.get("source_user_pool_id") == self.source_pool
            and saved.get("target_user_pool_id") == self.target_pool
        )
        if saved is not None and same_pools and not saved.get("finished"):
            return saved, True
        return self.new_pass(), False

    def new_pass(self) -> dict[str, Any]:
        """Start over from the first page, keeping what earlier passes wrote under a dated name."""
        stamp = _stamp()
        for path in (self.map_path, self.journal_path, self.checkpoint_path):
            if path.exists():
                os.replace(path, path.with_name(f"{path.name}.{stamp}"))
        return self.fresh_checkpoint()

    def save(self, checkpoint: Mapping[str, Any]) -> None:
        atomic_write(self.checkpoint_path, json.dumps(checkpoint, indent=2).encode("utf-8"))

    # --- the append-only files ---

    def open_sub_map(self) -> AppendOnlyFile:
        return AppendOnlyFile(self.map_path, header=_csv_line(MAP_HEADER))

    def open_journal(self) -> AppendOnlyFile | None:
        """The journal; a dry run creates nobody, so has none."""
        return None if self.dry_run else AppendOnlyFile(self.journal_path)

    def rows_since(self, offset: int) -> Iterator[dict[str, str]]:
        return rows_from(self.map_path, offset)

    def in_flight(self, checkpoint: Mapping[str, Any]) -> tuple[set[str], dict[str, float]]:
        """(users of the checkpoint's page already done, users begun there but not done)."""
        done = {row["username"] for row in self.rows_since(checkpoint["map_offset"])}
        if self.dry_run:
            return done, {}
        begun, existed = journal_from(self.journal_path, checkpoint["journal_offset"])
        return done, {u: t for u, t in begun.items() if u not in existed and u not in done}

    # --- the lists ---

    def write_lists(self, samples: int) -> list[str]:
        """The lists for people to act on, streamed from the whole pass's sub map.

        Returns the first `samples` TOTP users, for the report.
        """
        for name, path in self.list_paths.items():
            flag = {"totp_users": "totp"}.get(name, name)
            atomic_write_lines(
                path,
                (row["username"] for row in self.rows_since(0) if flag in row["flags"].split(";")),
            )
        with open(self.list_paths["totp_users"], encoding="utf-8") as handle:
            return [line.strip() for line, _ in zip(handle, range(samples), strict=False)]
