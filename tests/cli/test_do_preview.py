"""`runbook do STEP` at a terminal prints what the action will change before it asks:
the same preview as the app's dialog; a read that fails says so in one line, and asks."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.support import dnsworld as w
from tests.support.aws import free_port
from tests.support.runbooks import base_runbook, with_steps, write_runbook

ROOT = Path(__file__).resolve().parents[2]


def flip_only(directory: Path) -> tuple[Path, str]:
    session = w.dns_session(False)
    zone = w.make_zone(session)
    w.upsert(session, zone, w.simple())
    book = base_runbook(zone_id=zone, flip=w.FLIPS["simple"])
    return write_runbook(directory, with_steps(book, [book["steps"][2]])), zone


def do_at_a_terminal(path: Path, answer: str, **env: str) -> tuple[int, str, str]:
    """`runbook do flip-dns` with a terminal on stdin, answering the question with `answer`."""
    leader, follower = pty.openpty()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "runbook.cli", "do", "flip-dns", "-f", str(path)],
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(leader, answer.encode() + b"\n")  # read when the prompt asks
        out, err = child.communicate(timeout=120)
    finally:
        os.close(leader)
        os.close(follower)
    return child.returncode, out, err


def test_do_prints_the_record_sets_before_and_after_then_asks(
    moto_server: str, tmp_path: Path
) -> None:
    path, zone = flip_only(tmp_path)
    code, out, err = do_at_a_terminal(path, "n")
    assert code == 1 and "not confirmed; nothing changed" in err
    preview = (
        f"app.example.com. A\n  now:   {w.SOURCE_IP} · TTL 300s\n  after: {w.TARGET_IP} · TTL 30s"
    )
    assert preview in out
    assert out.index(preview) < out.index("[y/N]")  # shown before the question
    assert "Flip DNS: step 'flip-dns' (rehearsal)? [y/N]" in out  # the action's words
    assert f"Flip DNS: app.example.com. in hosted zone {zone}" in out
    assert w.records(w.dns_session(False), zone)[0]["ResourceRecords"] == [{"Value": w.SOURCE_IP}]
    assert "Traceback" not in out + err


def test_an_unreadable_zone_is_said_in_one_line_and_the_question_still_asked(
    moto_server: str, tmp_path: Path
) -> None:
    path, _zone = flip_only(tmp_path)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    code, out, err = do_at_a_terminal(path, "n", AWS_ENDPOINT_URL=dead)
    assert code == 1 and "not confirmed; nothing changed" in err
    said = [line for line in out.splitlines() if "could not read current values:" in line]
    assert len(said) == 1 and "127.0.0.1" in said[0], out
    assert out.index(said[0]) < out.index("[y/N]")
    assert "Traceback" not in out + err
