"""`runbook validate`: the bundled runbook is valid; broken ones get one clear line each."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runbook.cli.main import main
from tests.support.runbooks import base_runbook, write_runbook

ROOT = Path(__file__).resolve().parents[2]
Mutation = Callable[[dict[str, Any]], None]


def test_bundled_runbook_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-f", str(ROOT / "runbook.toml")]) == 0
    assert "valid" in capsys.readouterr().out


def _set(path: str, value: Any) -> Mutation:
    def mutate(book: dict[str, Any]) -> None:
        node: Any = book
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value

    return mutate


def _dup_step(book: dict[str, Any]) -> None:
    book["steps"].append(copy.deepcopy(book["steps"][0]))


CASES: list[tuple[str, Mutation, str]] = [
    ("unknown-key", _set("migration.colour", "red"), "migration.colour: unknown key"),
    ("wrong-type", _set("dns.cutover_ttl", "thirty"), "dns.cutover_ttl:"),
    ("bad-account-id", _set("accounts.target.account_id", "12345"), "accounts.target.account_id:"),
    (
        "bad-arn",
        _set("accounts.source.role_arn", "arn:aws:iam::111111111111:user/bob"),
        "malformed role ARN",
    ),
    (
        "arn-other-account",
        _set("accounts.source.role_arn", "arn:aws:iam::999999999999:role/x"),
        "role_arn belongs to account 999999999999",
    ),
    ("unknown-check", _set("steps.0.checks", [{"id": "dns.ttll"}]), "unknown check 'dns.ttll'"),
    ("duplicate-step", _dup_step, "duplicate step id 'verify-accounts'"),
    ("zone-in-source", _set("dns.account", "source"), "source account is read-only"),
    ("bad-environment", _set("migration.environment", "prod"), "migration.environment:"),
    ("missing-key", _set("steps.1.title", None), "steps.1.title:"),
    ("bad-action", _set("steps.1.action", {"kind": "reboot"}), "steps.1.action"),
    (
        "bad-check-param",
        _set("steps.0.checks", [{"id": "identity.accounts", "params": {"x": 1}}]),
        "steps.0.checks.0.params.x: unknown key",
    ),
    ("same-accounts", _set("accounts.target.account_id", "111111111111"), "same account"),
    ("bad-step-id", _set("steps.2.id", "Flip DNS!"), "steps.2.id:"),
    ("no-steps", _set("steps", []), "steps:"),
    ("bad-flip-mode", _set("dns.flip", {"mode": "geo"}), "dns.flip"),
]


@pytest.mark.parametrize(("name", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_broken_runbooks_give_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, mutate: Mutation, expected: str
) -> None:
    book = base_runbook()
    mutate(book)
    if name == "missing-key":
        del book["steps"][1]["title"]
    path = write_runbook(tmp_path, book)
    assert main(["validate", "-f", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(str(path) + ":")
    assert expected in err[0]
    assert "Traceback" not in err[0]


def test_toml_syntax_error_names_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "runbook.toml"
    path.write_text('[migration]\nname = "x"\nenvironment = = "staging"\n')
    assert main(["validate", "-f", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"{path}:3:")


def test_model_errors_point_at_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = base_runbook()
    book["steps"][2]["colour"] = "red"
    path = write_runbook(tmp_path, book)
    assert main(["validate", "-f", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    number = int(line.split(":")[1])
    assert path.read_text().splitlines()[number - 1].startswith("colour")
    assert "(step 'flip-dns')" in line


def test_several_problems_each_on_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = base_runbook()
    book["migration"]["colour"] = "red"
    book["accounts"]["target"]["account_id"] = "1"
    path = write_runbook(tmp_path, book)
    assert main(["validate", "-f", str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 2


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["validate", "-f", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_console_script_never_shows_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "runbook.toml"
    path.write_bytes(b"\xff\xfe not utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "runbook.cli", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and str(path) in done.stderr


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Runbook"
    assert {"migration", "accounts", "dns", "steps"} <= set(schema["properties"])
