"""A log written before the verifier changed still verifies, byte for byte as it was.

`fixtures/written-before-orjson.jsonl` was written by `AuditLog` before verify
took a faster JSON parser (since replaced by checking good lines by their bytes).
It holds what a faster parser or serializer could get wrong: non-ASCII and
astral text, every control character class, floats in exponent form (`1e-07`,
`1e+20`), `-0.0`, integers beyond 64 bits, nested keys whose sort order
depends on code points, and details keys named `hash`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runbook.audit import verify as verify_module
from runbook.audit.record import GENESIS, RECORD_KEYS, canonical, record_hash
from runbook.audit.verify import verify

FIXTURE = Path(__file__).parent / "fixtures" / "written-before-orjson.jsonl"
HEAD = "2bc79d2b2b9e9969630f5759452b09bbe8f977f5a4230973176a82ed4185be2b"


def parse_every_line(lines: object, start: int, prev: str, before: int) -> tuple[int, str]:
    """Stands in for the bytes-only fast path: every line goes to the standard library."""
    return start, prev


@pytest.fixture(params=["fast path", "standard library only"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "standard library only":
        monkeypatch.setattr(verify_module, "_as_stored", parse_every_line)
    return str(request.param)


def test_the_old_log_verifies(parser: str) -> None:
    report = verify(FIXTURE)
    assert report.ok, report.describe()
    assert (report.count, report.head_hash) == (5, HEAD)


def edited(tmp_path: Path, old: bytes, new: bytes) -> Path:
    path = tmp_path / "audit.jsonl"
    shutil.copyfile(FIXTURE, path)
    data = path.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("old", "new", "seq"),
    [
        ("move — 𝄞".encode(), "move — 𝄟".encode(), 1),
        (b'"ttl":30', b'"ttl":31', 2),
        (b'"tiny":1e-07', b'"tiny":2e-07', 2),
        (b'"big":1180591620717411303424', b'"big":1180591620717411303425', 2),
        (b'"neg":-0.0', b'"neg":0.0', 2),
        (b"\\u001b", b"\\u001c", 2),
        (b'"amount":"12.50"', b'"amount":"12.5"', 3),
    ],
)
def test_a_changed_value_is_caught_at_its_record(
    parser: str, tmp_path: Path, old: bytes, new: bytes, seq: int
) -> None:
    report = verify(edited(tmp_path, old, new))
    assert not report.ok
    assert report.reason is not None and "hash does not match" in report.reason
    assert (report.bad_seq, report.count) == (seq, seq - 1)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # The same values written differently: the chain is over the values, as before.
        (b'"tiny":1e-07', b'"tiny":1E-7'),
        (b'"huge":1e+20', b'"huge":100000000000000000000.0'),
        (b'"ratio":0.1,', b'"ratio" : 0.10 ,'),
    ],
)
def test_the_same_values_written_differently_verify_as_before(
    parser: str, tmp_path: Path, old: bytes, new: bytes
) -> None:
    report = verify(edited(tmp_path, old, new))
    assert report.ok, report.describe()
    assert report.head_hash == HEAD


def test_every_line_of_the_fixture_is_canonical(parser: str) -> None:
    """The fixture is what the writer wrote: canonical JSON, one record a line."""
    for raw in FIXTURE.read_bytes().splitlines():
        record = json.loads(raw)
        again = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert again.encode("utf-8") == raw


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@example(written=1.1805916207174113e21, found=2**70 + 1, fields="details")  # int for float
@example(written={"a": 6.103515625e-05}, found={"a": 6.103515625e-05}, fields="details")
@given(written=JSON, found=JSON, fields=st.sampled_from(["details", "step", "seq"]))
def test_verify_says_the_same_with_or_without_the_fast_parser(
    written: object, found: object, fields: str
) -> None:
    """A record as written, then its values replaced (a tampering, or the same values):
    the verdict and the reason are the standard library's alone, whatever the values."""
    record: dict[str, object] = dict.fromkeys(RECORD_KEYS)
    record.update(seq=1, event="check.result", details=written, prev_hash=GENESIS)
    record["hash"] = record_hash(record)
    line = canonical({**record, fields: found}) + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        path.write_bytes(line)
        fast = verify(path)
        with mock.patch.object(verify_module, "_as_stored", parse_every_line):
            slow = verify(path)
    assert fast == slow
