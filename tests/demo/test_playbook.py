"""The demo's runbook is the bundled playbook with the seeded world's values, nothing more.

No emulator here: the world is a `DemoWorld` with made-up IDs of the right
shapes, enough for the loader to validate every check's parameters.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import runbook
from runbook.demo.model import DemoWorld
from runbook.demo.playbook import (
    DEMO_MARKER,
    DEMO_WATCH,
    DemoDirectoryError,
    PlaybookError,
    demo_notes,
    derive,
    load_playbook,
    playbook_source,
    render_runbook,
    write_runbook,
)
from runbook.demo.site import MARKER, DemoSite
from runbook.loader import LoadedRunbook, load

BUNDLED = Path(__file__).resolve().parents[2] / "runbook.toml"
WATCH_AT = [
    s["action"]["kind"] for s in tomllib.loads(BUNDLED.read_text(encoding="utf-8"))["steps"]
].index("watch")

Path_ = tuple[str, ...]
Diff = tuple[str, Path_]

# Every leaf where the demo's runbook may differ from the bundled playbook. Check
# parameters are named by check ID, step fields by field name (any step).
VALUE_SWAPS: set[Path_] = {
    ("migration", "name"),
    ("migration", "environment"),
    ("migration", "ticket"),
    ("migration", "state_dir"),
    *(("accounts", "source", k) for k in ("account_id", "region", "role_arn", "external_id")),
    ("accounts", "target", "account_id"),
    ("accounts", "target", "region"),
    ("dns", "account"),
    ("dns", "zone_id"),
    ("dns", "name"),
    ("cognito", "source_user_pool_id"),
    ("cognito", "target_user_pool_id"),
    ("steps", "instructions"),  # the playbook's text, then a "*Demo:*" note (below)
    ("steps", "approvals"),  # one person rehearses alone: nobody else could approve
    ("checks", "cfn.drift", "params", "stacks"),
    ("checks", "cfn.stacks", "params", "stacks"),
    # No table statistics on the emulator: more samples stand in (playbook.py says why).
    ("checks", "source.writes_stopped", "params", "consecutive_samples"),
    *(
        ("checks", "vpc.cidr_overlap", "params", k)
        for k in ("source_vpc_id", "target_vpc_id", "endpoint_ids", "endpoint_service_name")
    ),
    *(
        ("checks", c, "params", "task_id")
        for c in (
            "dms.network_path",
            "dms.task",
            "dms.source_replica",
            "dms.cdc_lag",
            "source.writes_stopped",
            "dms.validation",
        )
    ),
    ("checks", "dms.cdc_lag", "params", "window_minutes"),
    ("checks", "cognito.migration_window", "params", "window_days"),  # no six weeks to wait
    ("checks", "s3.replication", "params", "buckets"),
    *(
        ("checks", "cognito.migration_trigger", "params", k)
        for k in ("target_client_id", "source_client_id", "source_role_arn", "source_external_id")
    ),
    ("checks", "cognito.canary_signin", "params", "target_client_id"),
    ("checks", "synthetic.http", "params", "urls"),
    ("checks", "cognito.signin_success", "params", "target_client_id"),
    ("checks", "cloudwatch.alarms", "params", "prefix"),
    ("steps", "action", "window_s"),  # the watch: seconds in a rehearsal, not 30 minutes
    ("steps", "action", "interval_s"),
    ("steps", "action", "task_id"),  # the DMS task the stop-replication step stops
}
DEMO_ONLY_PARAMS: set[Path_] = {
    ("checks", "s3.replication", "params", "existing_objects_copied"),
    ("checks", "s3.replication", "params", "no_sse_kms_objects"),
    ("checks", "cognito.migration_progress", "params", "requests_per_second"),
    ("checks", "cognito.migration_window", "params", "requests_per_second"),
    ("checks", "refs.source_account", "params", "allow"),
}
STRUCTURAL: set[Diff] = {
    ("removed", ("accounts", "target", "profile")),
    ("removed", ("accounts", "dns")),
    ("changed", ("dns", "flip", "mode")),
    ("removed", ("dns", "flip", "hosted_zone_id")),
    ("removed", ("dns", "flip", "dns_name")),
    ("removed", ("dns", "flip", "evaluate_target_health")),
    ("added", ("dns", "flip", "values")),
}
ALLOWED: set[Diff] = (
    {("changed", p) for p in VALUE_SWAPS} | {("added", p) for p in DEMO_ONLY_PARAMS} | STRUCTURAL
)


def fake_world(*, site: bool = True) -> DemoWorld:
    return DemoWorld(
        endpoint_url="http://127.0.0.1:9",  # never called: no AWS here
        source_vpc_id="vpc-0aaaaaaaaaaaaaaaa",
        target_vpc_id="vpc-0bbbbbbbbbbbbbbbb",
        endpoint_id="vpce-0123456789abcdef0",
        endpoint_service_name="com.amazonaws.vpce.eu-west-1.vpce-svc-0aaaaaaaaaaaaaaaa",
        zone_id="Z0DEMO0000000000000",
        source_pool_id="eu-west-1_Source1",
        target_pool_id="eu-west-1_Target1",
        source_client_id="sourceclientdemo000000000",
        target_client_id="targetclientdemo000000000",
        site_url="http://127.0.0.1:8765" if site else None,
    )


def bundled() -> dict[str, Any]:
    return tomllib.loads(BUNDLED.read_text(encoding="utf-8"))


def diffs(ours: Any, theirs: Any, path: Path_ = ()) -> Iterator[Diff]:
    """(kind, path) of every leaf that differs; steps and checks are matched by ID."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in theirs.keys() - ours.keys():
            yield "removed", (*path, key)
        for key in ours.keys() - theirs.keys():
            yield "added", (*path, key)
        for key in ours.keys() & theirs.keys():
            yield from diffs(ours[key], theirs[key], (*path, key))
    elif path and path[-1] in ("steps", "checks"):
        if [item["id"] for item in ours] != [item["id"] for item in theirs]:
            yield "reordered", path
            return
        for mine, bundled_one in zip(ours, theirs, strict=True):
            if path[-1] == "checks":
                # No params table means every default: the same as an empty one.
                mine = {"params": {}, **mine}
                bundled_one = {"params": {}, **bundled_one}
                yield from diffs(mine, bundled_one, ("checks", mine["id"]))
            else:
                yield from diffs(mine, bundled_one, ("steps",))
    elif ours != theirs:
        yield "changed", path


def loaded(tmp_path: Path, text: str) -> LoadedRunbook:
    path = tmp_path / "runbook.toml"
    path.write_text(text, encoding="utf-8")
    return load(path)


# --- same playbook, other values --------------------------------------------------------


def test_the_derived_runbook_has_the_playbooks_steps_checks_and_actions(tmp_path: Path) -> None:
    ours = loaded(tmp_path, render_runbook(fake_world())).model
    theirs = load(BUNDLED).model

    def shape(book: Any) -> list[tuple[str, str, str, str, list[str]]]:
        return [
            (s.id, s.title, s.phase, s.action.kind, [c.id for c in s.checks]) for s in book.steps
        ]

    assert shape(ours) == shape(theirs)
    assert [s.independent for s in ours.steps] == [s.independent for s in theirs.steps]


def test_only_values_differ_from_the_playbook() -> None:
    world = fake_world()
    ours = derive(bundled(), world)
    found = set(diffs(ours, bundled()))
    assert found - ALLOWED == set()
    assert ("changed", ("dns", "zone_id")) in found  # the walk does see swapped values
    # The instructions are the playbook's, whole, with the demo's note after them.
    for mine, theirs in zip(ours["steps"], bundled()["steps"], strict=True):
        assert mine["instructions"].startswith(theirs["instructions"].rstrip())
        note = mine["instructions"][len(theirs["instructions"].rstrip()) :].strip()
        assert note == "" or note.startswith("*Demo:*")


def test_the_swapped_values_are_the_worlds() -> None:
    world = fake_world()
    ours = derive(bundled(), world)
    assert ours["migration"]["environment"] == "rehearsal"
    assert ours["accounts"]["source"]["account_id"] == world.source_account
    assert ours["accounts"]["target"] == {"account_id": world.target_account, "region": "eu-west-1"}
    assert ours["dns"]["flip"] == {"mode": "simple", "values": [world.target_ip]}
    checks = {c["id"]: c.get("params", {}) for s in ours["steps"] for c in s.get("checks", [])}
    assert checks["vpc.cidr_overlap"]["endpoint_ids"] == [world.endpoint_id]
    assert checks["vpc.cidr_overlap"]["endpoint_service_name"] == world.endpoint_service_name
    assert checks["dms.cdc_lag"]["window_minutes"] == world.lag.window_minutes
    # The demo's window is over at its flip; the share it waits for is the playbook's.
    assert checks["cognito.migration_window"]["window_days"] == 0
    assert checks["cognito.migration_window"]["min_migrated_percent"] == 92
    assert checks["refs.source_account"]["allow"] == [
        f"lambda:{world.trigger_function}:OLD_ROLE_ARN"
    ]
    assert checks["cognito.signin_success"]["target_client_id"] == world.target_client_id
    assert checks["cloudwatch.alarms"] == {"prefix": world.alarm_name}
    watches = [s["action"] for s in ours["steps"] if s["action"]["kind"] == "watch"]
    assert watches == [{"kind": "watch", **DEMO_WATCH, "on_breach": "offer"}]
    urls = [u if isinstance(u, str) else u["url"] for u in checks["synthetic.http"]["urls"]]
    assert urls and all(u.startswith(f"{world.site_url}/") for u in urls)


def test_the_finishing_steps_name_the_worlds_task() -> None:
    world = dataclasses.replace(fake_world(), task_id="demo-task-2")
    steps = {s["id"]: s for s in derive(bundled(), world)["steps"]}
    assert steps["stop-replication"]["action"] == {
        "kind": "dms.stop_task",
        "task_id": "demo-task-2",
    }
    assert steps["final-validation"]["checks"][0]["params"]["task_id"] == "demo-task-2"
    found = set(diffs(derive(bundled(), world), bundled()))
    assert ("changed", ("steps", "action", "task_id")) in found
    assert found - ALLOWED == set()


def test_every_url_the_playbook_probes_is_served_by_the_demo_site() -> None:
    probes = [
        u if isinstance(u, str) else u["url"]
        for s in bundled()["steps"]
        for c in s.get("checks", [])
        if c["id"] == "synthetic.http"
        for u in c["params"]["urls"]
    ]
    assert probes
    assert {urlsplit(u).path for u in probes} <= set(DemoSite.ROUTES)


def test_the_playbooks_synthetic_checks_tell_the_target_by_the_demo_sites_marker() -> None:
    book = bundled()
    probes = {
        s["id"]: [
            u
            for c in s.get("checks", [])
            if c["id"] == "synthetic.http"
            for u in c["params"]["urls"]
        ]
        for s in book["steps"]
    }
    # Both sides answer 200: after the flip, only a marker proves the target answered.
    after_flip = probes["verify-traffic"]
    assert after_flip and all(
        urlsplit(u["url"]).hostname == book["dns"]["name"] for u in after_flip
    )
    markers = {(u["expect_header"]["name"], u["expect_header"]["value"]) for u in after_flip}
    assert markers == {MARKER}
    assert all(u.get("expect_header") for u in probes["validate-target"])
    # The demo keeps the marker and the host (the site routes the app's name by its record).
    world = fake_world()
    ours = {s["id"]: s for s in derive(book, world)["steps"]}
    [probe] = ours["verify-traffic"]["checks"][0]["params"]["urls"]
    assert probe == {
        "url": f"{world.site_url}/{world.record_name}/healthz",
        "expect_header": {"name": MARKER[0], "value": MARKER[1]},
    }


def test_every_demo_note_is_for_a_step_of_the_playbook() -> None:
    assert set(demo_notes(fake_world())) <= {s["id"] for s in bundled()["steps"]}


def test_without_the_site_only_the_synthetic_checks_go() -> None:
    with_site = derive(bundled(), fake_world())
    without = derive(bundled(), fake_world(site=False))
    for mine, full in zip(without["steps"], with_site["steps"], strict=True):
        kept = [c for c in full.get("checks", []) if c["id"] != "synthetic.http"]
        assert mine.get("checks", []) == kept
        assert {k: v for k, v in mine.items() if k != "checks"} == {
            k: v for k, v in full.items() if k != "checks"
        }


def test_the_steps_come_from_the_playbook_not_from_a_template() -> None:
    playbook = bundled()
    playbook["steps"][0]["title"] = "A title only this playbook has"
    playbook["steps"].append(copy.deepcopy(playbook["steps"][-1]) | {"id": "one-more"})
    ours = derive(playbook, fake_world())
    assert [s["id"] for s in ours["steps"]] == [s["id"] for s in playbook["steps"]]
    assert ours["steps"][0]["title"] == "A title only this playbook has"


def _drop(playbook: dict[str, Any], path: tuple[str | int, ...]) -> None:
    table: Any = playbook
    for key in path[:-1]:
        table = table[key]
    del table[path[-1]]


@pytest.mark.parametrize(
    "path",
    [
        ("dns", "zone_id"),
        ("accounts", "source", "role_arn"),
        ("cognito",),
        ("steps", 4, "checks", 0, "params", "task_id"),  # replicate-database: dms.task
        ("steps", WATCH_AT, "action", "window_s"),  # the watch's window, swapped for seconds
    ],
)
def test_a_playbook_without_a_swapped_value_is_refused(path: tuple[str | int, ...]) -> None:
    playbook = bundled()
    _drop(playbook, path)
    with pytest.raises(PlaybookError, match="bundled playbook"):
        derive(playbook, fake_world())


# --- where the playbook is found --------------------------------------------------------


def test_a_source_tree_reads_the_root_playbook() -> None:
    source = playbook_source()
    assert Path(str(source)) == BUNDLED
    assert load_playbook(source) == bundled()


def test_a_packaged_playbook_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "built_demo_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "playbook.toml").write_text('[migration]\nname = "packaged"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_playbook(playbook_source("built_demo_pkg")) == {"migration": {"name": "packaged"}}


def test_no_playbook_anywhere_is_said_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty_demo_pkg").mkdir()
    (tmp_path / "empty_demo_pkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(runbook, "__file__", str(tmp_path / "site" / "runbook" / "__init__.py"))
    with pytest.raises(PlaybookError, match="bundled playbook is missing"):
        playbook_source("empty_demo_pkg")


# --- writing it -------------------------------------------------------------------------


def test_write_runbook_never_overwrites_what_it_did_not_write(tmp_path: Path) -> None:
    world = DemoWorld(endpoint_url="http://127.0.0.1:9")
    mine = tmp_path / "runbook.toml"
    mine.write_text("# my production runbook\n")
    with pytest.raises(DemoDirectoryError, match="not written by the demo"):
        write_runbook(tmp_path, world)
    assert mine.read_text() == "# my production runbook\n"

    demo_dir = tmp_path / "demo"
    path = write_runbook(demo_dir, world)
    assert path.read_text(encoding="utf-8").startswith(DEMO_MARKER)
    assert world.archived_state is None
    (demo_dir / ".runbook").mkdir()
    (demo_dir / ".runbook" / "audit.jsonl").write_text("{}\n")
    assert write_runbook(demo_dir, world) == path  # a demo runbook: rewritten
    # The old run's state belongs to a world that is gone: kept aside, not resumed.
    assert world.archived_state is not None
    assert (world.archived_state / "audit.jsonl").read_text() == "{}\n"
    assert world.archived_state.parent == demo_dir
    assert not (demo_dir / ".runbook").exists()
    assert sorted(p.name for p in demo_dir.iterdir() if not p.name.startswith(".runbook-")) == [
        "runbook.toml"
    ]
