"""The rollback command's lean reads agree with the model and the state store they stand in for.

`runbook rollback` reads a few runbook fields without the pydantic models
(`rollback_inputs`) and changes the state as JSON (`rollback_state`). These
tests hold each to what the model and `StateStore` would have said.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from runbook.dns.rollback_inputs import (
    AccountRef,
    RunbookUnusable,
    StepRef,
    UnusableField,
    read_inputs,
    steps_to_reset,
)
from runbook.dns.rollback_state import JsonStateFile, apply_patch, rollback_patch
from runbook.loader import load
from runbook.model import Account
from runbook.rollback_reset import reset_on_rollback
from runbook.state import RunState, StateStore, StepStatus
from tests.support.runbooks import DNS_ROLE, base_runbook, write_runbook

ACCOUNT_VALUES: dict[str, list[Any]] = {
    "account_id": ["123456789012", "333333333333", "12345678901", "1234567890123", "12345678901a"],
    "region": ["us-east-1", "eu-west-2", "us-gov-west-1", "useast1", "US-EAST-1", ""],
    "profile": [None, "ops", ""],
    "role_arn": [
        None,
        DNS_ROLE,
        "arn:aws:iam::123456789012:role/runbook",
        "arn:aws-cn:iam::123456789012:role/path/to/r",
        "arn:aws:iam::12345678901:role/x",
        "not an arn",
    ],
    "external_id": [None, "runbook-dns", "x", "y" * 1225],
    "session_name": ["runbook", "a", "ok-name@x", "bad name", "n" * 65],
}


@st.composite
def account_tables(draw: st.DrawFn) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key, values in ACCOUNT_VALUES.items():
        if key in ("account_id", "region") or draw(st.booleans()):
            table[key] = draw(st.sampled_from(values))
    if draw(st.integers(0, 20)) == 0:
        table[draw(st.sampled_from(["bogus", "account_id", "region"]))] = draw(
            st.sampled_from([1, None, "us-east-1"])
        )
    return table


@settings(max_examples=400, deadline=None)
@given(table=account_tables())
def test_an_account_table_is_usable_exactly_when_the_model_takes_it(table: dict[str, Any]) -> None:
    try:
        model: Account | None = Account.model_validate(table)
    except ValidationError:
        model = None
    try:
        lean: AccountRef | None = AccountRef.parse(table)
    except UnusableField:
        lean = None
    assert (lean is None) == (model is None), (table, lean, model)
    if model is not None and lean is not None:
        assert lean == AccountRef.recorded(model.model_dump())


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.booleans(), st.sampled_from(["none", "dns.flip", "dns.lower_ttl", "manual"])),
        min_size=1,
        max_size=8,
    )
)
def test_a_rollback_resets_from_the_first_after_rollback_step_or_the_flip_to_the_end(
    steps: list[tuple[bool, str]],
) -> None:
    refs = tuple(StepRef(f"s{i}", kind, after) for i, (after, kind) in enumerate(steps))
    starts = [r.after_rollback or r.kind == "dns.flip" for r in refs]
    reset = steps_to_reset(refs)
    assert reset == tuple(r.id for r in refs[len(refs) - len(reset) :])  # a suffix of the run
    assert bool(reset) == any(starts)
    if reset:
        first = len(refs) - len(reset)
        assert starts[first] and not any(starts[:first])
    model = SimpleNamespace(
        steps=[
            SimpleNamespace(
                id=r.id, after_rollback=r.after_rollback, action=SimpleNamespace(kind=r.kind)
            )
            for r in refs
        ]
    )
    assert reset_on_rollback(cast(Any, model)) == reset  # the engine's rule is this one


def test_the_inputs_are_the_loaded_runbooks(tmp_path: Path) -> None:
    book = base_runbook()
    book["migration"]["state_dir"] = "run-files"
    book["settings"] = {"rollback_deadline_s": 45}
    book["accounts"]["dns"] = {
        "account_id": "333333333333",
        "region": "us-east-1",
        "role_arn": DNS_ROLE,
        "external_id": "runbook-dns",
    }
    path = write_runbook(tmp_path, book)
    loaded, inputs = load(path), read_inputs(path)
    assert inputs.state_dir == loaded.state_dir
    assert inputs.environment == loaded.model.migration.environment
    assert inputs.deadline_s == loaded.model.settings.rollback_deadline_s
    assert inputs.reset_steps == reset_on_rollback(loaded.model)
    for name in ("source", "target", "dns"):
        assert inputs.accounts[name] == AccountRef.recorded(loaded.model.account(name).model_dump())


@pytest.mark.parametrize(
    "breakage",
    [
        {"migration": {"name": "x", "environment": "prod"}},
        {"settings": {"rollback_deadline_s": 0}},
        {"settings": {"rollback_deadline_s": 1801}},
        {"settings": {"rollback_deadline_s": "soon"}},
        {"accounts": {"source": {"account_id": "123456789012", "region": "us-east-1"}}},
        {"steps": []},
    ],
)
def test_a_field_the_model_refuses_is_unusable(tmp_path: Path, breakage: dict[str, Any]) -> None:
    book = base_runbook()
    for key, value in breakage.items():
        if isinstance(value, dict) and isinstance(book.get(key), dict):
            book[key] = {**book[key], **value}
        else:
            book[key] = value
    path = write_runbook(tmp_path, book)
    with pytest.raises(RunbookUnusable):
        read_inputs(path)
    with pytest.raises(Exception, match=r"\S"):
        load(path)


def saved(path: Path) -> RunState:
    return StateStore(path).load()


@pytest.mark.parametrize("confirmed", [True, False])
def test_the_json_patch_writes_what_the_model_path_writes(tmp_path: Path, confirmed: bool) -> None:
    state = RunState(run_id="r1")
    state.step("flip-dns").status = StepStatus.DONE
    state.step("watch").status = StepStatus.DONE
    state.step("watch").waiver = "kept"
    state.dns.flipped_at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    as_model, as_json = tmp_path / "model" / "state.json", tmp_path / "json" / "state.json"
    for path in (as_model, as_json):
        StateStore(path).save(copy.deepcopy(state))
    patch = rollback_patch(confirmed, ("flip-dns", "watch", "later"), datetime.now(UTC))
    StateStore(as_model).update(lambda s: apply_patch(s, patch))
    JsonStateFile(as_json).update(lambda s: apply_patch(s, patch))
    assert saved(as_json) == saved(as_model)
    after = saved(as_json)
    assert after.dns.rollback_confirmed is confirmed
    assert (after.dns.flipped_at is None) is confirmed
    assert after.step("watch").waiver == (None if confirmed else "kept")  # voided when reset
    expected = StepStatus.PENDING if confirmed else StepStatus.DONE
    assert after.step("flip-dns").status == expected


@pytest.mark.parametrize("text", ['{"steps": 5}', '{"dns": []}', "[1]", '{"run_id": 7}', "{"])
def test_a_state_the_model_cannot_read_is_not_written(tmp_path: Path, text: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(ValueError):
        JsonStateFile(path).read()
    with pytest.raises(ValueError):
        StateStore(path).load()
    patch = rollback_patch(True, ("flip-dns",), datetime.now(UTC))
    with pytest.raises(ValueError):
        JsonStateFile(path).update(lambda s: apply_patch(s, patch))
    assert path.read_text() == text


@pytest.mark.parametrize("confirmed", [True, False])
def test_a_confirmed_rollback_voids_the_waivers_of_the_steps_it_resets(confirmed: bool) -> None:
    state = RunState()
    state.step("flip-dns").waiver = "rehearsal: TTL lowered an hour ago"
    state.step("lower-ttl").waiver = "kept: before the flip"
    apply_patch(state, rollback_patch(confirmed, ("flip-dns",), datetime.now(UTC)))
    assert state.step("flip-dns").waiver == (
        None if confirmed else "rehearsal: TTL lowered an hour ago"
    )
    assert state.step("lower-ttl").waiver == "kept: before the flip"
