"""No traceback or library warning reaches the terminal: an account that cannot be
reached, a profile that does not exist or a role that cannot be assumed is one
line naming the account, and library log records are one line each."""

from __future__ import annotations

import io
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.credentials
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from runbook.aws.session import CredentialsError, SessionFactory, build_session
from runbook.cli.terminal import OneLineHandler
from runbook.model import Account, Runbook
from tests.support.aws import free_port
from tests.support.runbooks import SOURCE, SOURCE_ROLE, TARGET, base_runbook, write_runbook

ROOT = Path(__file__).resolve().parents[2]


def runbook_cli(*args: str, endpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if endpoint is not None:
        env["AWS_ENDPOINT_URL"] = endpoint
    return subprocess.run(
        [sys.executable, "-m", "runbook.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def account_lines(out: str) -> dict[str, str]:
    lines = [line for line in out.splitlines() if line.strip()]
    found = {
        name: [line for line in lines if f"{name} account {account}" in line]
        for name, account in (("source", SOURCE), ("target", TARGET))
    }
    assert all(len(said) == 1 for said in found.values()), out  # one line per account
    assert len(lines) == 2, out  # and nothing else on stdout
    return {name: said[0] for name, said in found.items()}


def test_check_against_a_dead_endpoint_says_one_line_per_account(tmp_path: Path) -> None:
    path = write_runbook(tmp_path, base_runbook())
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    done = runbook_cli("check", "-f", str(path), endpoint=dead)
    assert done.returncode == 1
    said = account_lines(done.stdout)
    # The source is reached through its role: the line says which role and why not.
    assert said["source"].startswith("ERROR")
    assert f"cannot assume role {SOURCE_ROLE}" in said["source"] and dead in said["source"]
    assert said["target"].startswith("ERROR") and dead in said["target"]
    assert "no checks run" in done.stderr
    for stream in (done.stdout, done.stderr):
        assert "Traceback" not in stream
        assert "botocore" not in stream and "WARNING" not in stream


def test_check_names_the_missing_profile_and_its_account(moto_server: str, tmp_path: Path) -> None:
    book = base_runbook()
    book["accounts"]["target"]["profile"] = "cutover-target"  # not in the (empty) AWS config
    path = write_runbook(tmp_path, book)
    done = runbook_cli("check", "-f", str(path))
    assert done.returncode == 1
    said = account_lines(done.stdout)
    assert said["source"].startswith("PASS")  # its role is assumed on the emulator
    assert said["target"].startswith("ERROR")
    assert "profile 'cutover-target' not found" in said["target"]
    assert "Traceback" not in done.stdout + done.stderr


def test_a_failed_advisory_refresh_is_one_line_naming_the_account(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore logs a refresh that fails before the credentials expire, with a traceback;
    the terminal gets one line naming the account and the role, once."""
    sessions = SessionFactory(Runbook.model_validate(base_runbook()).accounts)
    creds = sessions.session("source").get_credentials()
    assert creds is not None
    creds.get_frozen_credentials()  # the role assumed on the emulator, for an hour
    # 48 minutes later, on botocore's clock: 12 left, so it refreshes ahead of time
    # ("advisory") and keeps the old credentials when that fails. STS is gone by now.
    later = datetime.now(UTC) + timedelta(minutes=48)
    monkeypatch.setattr(botocore.credentials, "_local_now", lambda: later)
    monkeypatch.setattr(creds, "_time_fetcher", lambda: later)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    stream = io.StringIO()
    handler = OneLineHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        for _ in range(2):  # each signed request asks for the credentials
            assert creds.get_frozen_credentials().access_key
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines  # said once, not on every request
    assert f"source account {SOURCE}" in lines[0] and SOURCE_ROLE in lines[0]
    assert "Traceback" not in stream.getvalue()


def test_a_mandatory_refresh_failure_reaches_the_caller_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    sessions = SessionFactory(Runbook.model_validate(base_runbook()).accounts)
    with pytest.raises(CredentialsError) as caught:
        sessions.identity("source")
    assert str(caught.value).startswith(f"source account {SOURCE}: cannot assume role")
    assert sessions.access_problems()["source"] == str(caught.value)


def test_library_records_and_warnings_are_one_line_each() -> None:
    stream = io.StringIO()
    handler = OneLineHandler(stream)
    log = logging.getLogger("some.library")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ConnectionError("peer went away\nand more detail")
        except ConnectionError:
            for _ in range(3):
                log.warning("request failed", exc_info=True)
    finally:
        log.removeHandler(handler)
        log.propagate = True
    assert stream.getvalue().splitlines() == [
        "runbook: warning: some.library: request failed: ConnectionError: peer went away"
    ]


def test_the_served_emulator_keeps_its_request_errors_off_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API the emulator lacks is a 500 for its caller, who says so; werkzeug's
    "Error on request" traceback never reaches the serving terminal."""
    child = subprocess.Popen(
        [sys.executable, "-m", "runbook.cli", "demo", "--serve", "--dir", str(tmp_path / "d")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    out: list[str] = []
    deadline = time.monotonic() + 120  # a bound on the wait, not an assertion on time
    while time.monotonic() < deadline and "ctrl+c stops it" not in "".join(out):
        line = child.stdout.readline()
        if not line:
            break
        out.append(line)
    for line in out:
        if line.startswith("export "):
            name, _, value = shlex.split(line.removeprefix("export "))[0].partition("=")
            monkeypatch.setenv(name, value)
    dms = build_session(Account(account_id=TARGET, region="eu-west-1"), read_only=False).client(
        "dms", config=Config(retries={"total_max_attempts": 1})
    )
    with pytest.raises(ClientError):  # moto: "has not been implemented", as a 500
        dms.describe_table_statistics(ReplicationTaskArn="arn:aws:dms:eu-west-1:1:task:x")
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=60)
    assert "ctrl+c stops it" in "".join(out), err
    assert child.returncode == 0
    assert err == "", err
