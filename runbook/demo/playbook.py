"""The demo's runbook, derived from the one bundled playbook (`runbook.toml`).

There is one playbook. The demo reads it (`load_playbook()`), swaps its values
for the seeded world's (`derive()`: account IDs, roles, zone, pools, VPC and
endpoint IDs, buckets, stacks, URLs, and a few demo-only parameters) and
writes the result with tomli_w (`write_runbook()`). Steps, phases, checks and
actions all come from the playbook. The few places where the demo cannot
follow the playbook's shape are in `derive()`, each with its reason, marked
"Structural".

Where the playbook comes from: an installed wheel carries it as
`runbook/demo/playbook.toml` (setup.py's build_py copies it in at build
time); a source tree, e.g. an editable install, has it at the repository root.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

import runbook
from runbook.demo.model import DemoWorld
from runbook.demo.site import MARKER
from runbook.durable import atomic_write

PACKAGED_PLAYBOOK = "playbook.toml"  # inside runbook.demo, in a built wheel only
SOURCE_PLAYBOOK = "runbook.toml"  # at the repository root
RUNBOOK_FILE = "runbook.toml"
STATE_DIR = ".runbook"
DEMO_MARKER = "# The demo runbook:"  # first line of every runbook the demo writes

_HEADER = f"""\
{DEMO_MARKER} the bundled playbook, against the embedded AWS emulator.
#
# Written by `runbook demo` from the bundled runbook.toml, with the IDs of the
# world it seeded a moment ago: same steps, phases, checks and actions; only
# values differ (runbook/demo/playbook.py says which, and why). Nothing here
# reaches beyond 127.0.0.1: AWS is moto's server on a loopback port, and the
# synthetic checks ask a tiny loopback web server.
#
# Some gates fail at first, as they would in life. On a step's screen, `f`
# fixes a failure in the emulator (where a fix exists) and `w` waives a gate
# with a typed reason; both are audited.

"""


class PlaybookError(RuntimeError):
    """The bundled playbook cannot be found, or no longer has a value the demo swaps."""


class DemoDirectoryError(RuntimeError):
    """The chosen directory holds something the demo must not overwrite."""


# --- the bundled playbook ----------------------------------------------------------------


def playbook_source(package: str = "runbook.demo") -> Traversable:
    """Where the bundled playbook is: packaged with `package` (a wheel), else the source tree."""
    packaged = resources.files(package).joinpath(PACKAGED_PLAYBOOK)
    if packaged.is_file():
        return packaged
    if runbook.__file__ is not None:
        root = Path(runbook.__file__).resolve().parents[1] / SOURCE_PLAYBOOK
        if root.is_file():
            return root
    raise PlaybookError(
        f"the bundled playbook is missing: neither {package}/{PACKAGED_PLAYBOOK} "
        f"(an installed wheel) nor {SOURCE_PLAYBOOK} at the repository root (a source tree)"
    )


def load_playbook(source: Traversable | None = None) -> dict[str, Any]:
    """The bundled playbook, parsed."""
    source = source if source is not None else playbook_source()
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PlaybookError(f"the bundled playbook {source} is not valid TOML: {exc}") from None


# --- swapping values ---------------------------------------------------------------------


def _table(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    table = parent.get(key)
    if not isinstance(table, dict):
        raise PlaybookError(f"the bundled playbook has no [{where}{key}] table to derive from")
    return table


def _swap(table: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Replace a value the playbook has: its absence means the playbook changed shape."""
    if key not in table:
        raise PlaybookError(f"the bundled playbook has no {where}.{key} for the demo to swap")
    table[key] = value


def _site_url(url: str, site: str) -> str:
    """The playbook's URL on the demo site, its host kept as the first path segment.

    The site answers each host as the playbook's world would: the app's name from
    the side its DNS record points at, any other name from the target.
    """
    parts = urlsplit(url)
    path = f"/{parts.hostname}{parts.path or '/'}"
    return site + path + (f"?{parts.query}" if parts.query else "")


def _synthetic_urls(params: dict[str, Any], world: DemoWorld, where: str) -> None:
    site = world.site_url
    urls = params.get("urls")
    if site is None or not isinstance(urls, list):
        raise PlaybookError(f"the bundled playbook has no {where}.urls for the demo to swap")
    # Only the address changes: each probe keeps its path and its expectations (the
    # target's marker included, which the demo site's target sends and its source not).
    params["urls"] = [
        _site_url(u, site) if isinstance(u, str) else {**u, "url": _site_url(u["url"], site)}
        for u in urls
    ]


def _task(params: dict[str, Any], world: DemoWorld, where: str) -> None:
    _swap(params, "task_id", world.task_id, where)


def _cdc_lag(params: dict[str, Any], world: DemoWorld, where: str) -> None:
    _swap(params, "task_id", world.task_id, where)
    # Demo-only value: the seeded lag falls within the first minutes, so the window
    # is as short as the demo's `LagProfile` says (the playbook's is for life).
    _swap(params, "window_minutes", world.lag.window_minutes, where)


def _vpc(params: dict[str, Any], world: DemoWorld, where: str) -> None:
    _swap(params, "source_vpc_id", world.source_vpc_id, where)
    _swap(params, "target_vpc_id", world.target_vpc_id, where)
    _swap(params, "endpoint_ids", [world.endpoint_id], where)
    _swap(params, "endpoint_service_name", world.endpoint_service_name, where)


def _s3(params: dict[str, Any], world: DemoWorld, where: str) -> None:
    buckets = [{"source_bucket": s, "target_bucket": t} for s, t in world.bucket_pairs]
    _swap(params, "buckets", buckets, where)


def _migration_trigger(params: dict[str, Any], world: DemoWorld, where: str) -> None:
    _swap(params, "target_client_id", world.target_client_id, where)
    _swap(params, "source_client_id", world.source_client_id, where)
    _swap(params, "source_role_arn", world.cognito_role_arn, where)
    _swap(params, "source_external_id", world.external_id, where)


def _migration_window(params: dict[str, Any], world: DemoWorld, where: str) -> None:
    # Demo-only value: a rehearsal cannot wait six weeks after its flip. The share
    # stays the playbook's: `f` on the progress check signs in that many users.
    _swap(params, "window_days", 0, where)


_CheckValues = Callable[[dict[str, Any], DemoWorld, str], None]

_CHECK_VALUES: dict[str, _CheckValues] = {
    "cfn.drift": lambda p, w, at: _swap(p, "stacks", list(w.source_stacks), at),
    "cfn.stacks": lambda p, w, at: _swap(p, "stacks", list(w.target_stacks), at),
    "vpc.cidr_overlap": _vpc,
    "dms.network_path": _task,
    "dms.task": _task,
    "dms.source_replica": _task,
    "dms.cdc_lag": _cdc_lag,
    "dms.validation": _task,
    "source.writes_stopped": _task,
    "s3.replication": _s3,
    "cognito.migration_trigger": _migration_trigger,
    "cognito.canary_signin": lambda p, w, at: _swap(p, "target_client_id", w.target_client_id, at),
    "cognito.migration_window": _migration_window,
    "synthetic.http": _synthetic_urls,
    "cognito.signin_success": lambda p, w, at: _swap(p, "target_client_id", w.target_client_id, at),
    # The seeded alarm is the app's one alarm: a prefix equal to its name watches it.
    "cloudwatch.alarms": lambda p, w, at: _swap(p, "prefix", w.alarm_name, at),
}
"""Per check ID, how the playbook's parameter values become the demo world's."""

_DEMO_PARAMS: dict[str, Callable[[DemoWorld], dict[str, Any]]] = {
    # The seeded objects were written after the replication rules, so nothing
    # pre-existing is left for a Batch Replication job to copy; none carries an
    # SSE-KMS header (the source's default is SSE-S3).
    "s3.replication": lambda w: {"existing_objects_copied": True, "no_sse_kms_objects": True},
    # The emulator has no quotas to share with live users. At the default pace
    # (10 reads/s) the one AdminGetUser per user still to move would run the
    # check into its MFA time budget on the demo's pool.
    "cognito.migration_progress": lambda w: {"requests_per_second": 50},
    # Its share is counted the same way, with the same pace and the same reason.
    "cognito.migration_window": lambda w: {"requests_per_second": 50},
    # The emulator has no DescribeTableStatistics, so the drain gate cannot see
    # DMS's per-table counters stand still (it says so): three one-minute samples
    # of zero source rows stand in for that 30-second proof.
    "source.writes_stopped": lambda w: {"consecutive_samples": 3},
    # The seeded migration trigger's OLD_ROLE_ARN names the source on purpose
    # (the role it assumes there), as the playbook's step says.
    "refs.source_account": lambda w: {"allow": [f"lambda:{w.trigger_function}:OLD_ROLE_ARN"]},
}
"""Demo-only parameters: per check ID, parameters the playbook leaves at their defaults."""


DEMO_WATCH = {"window_s": 6, "interval_s": 2}
"""Demo-only action values: a rehearsal watches seconds, not the playbook's 30 minutes."""

_DEMO_ACTION_VALUES: dict[str, Callable[[DemoWorld], dict[str, Any]]] = {
    # Demo-only values: the watch holds for seconds, not the playbook's 30 minutes, so
    # the rehearsal (and the tests that walk it) see its rounds and go on.
    "watch": lambda w: dict(DEMO_WATCH),
    "dms.stop_task": lambda w: {"task_id": w.task_id},
}
"""Per action kind, the action values the demo swaps (each must be in the playbook)."""


def demo_notes(world: DemoWorld) -> dict[str, str]:
    """Per step ID, a paragraph appended to the playbook's instructions in the demo."""
    return {
        "verify-accounts": (
            "*Demo:* two accounts, not three: the hosted zone is in the target account."
        ),
        "reconcile-drift": (
            "*Demo:* the emulator has no drift detection, so the check says `skipped`; it is\n"
            "advisory, so the step can still be confirmed."
        ),
        "replicate-database": (
            "*Demo:* CDC is still catching up when the demo starts; the lag falls over the\n"
            f"first minutes (the check looks at the last {world.lag.window_minutes} minutes "
            "here). Re-run the\nchecks (`r`) until it passes."
        ),
        "replicate-objects": (
            "*Demo:* the objects were written after the replication rules, so\n"
            "`existing_objects_copied = true` is declared."
        ),
        "migrate-users-lazily": (
            "*Demo:* the emulator never invokes Cognito triggers; `f` on the progress check\n"
            "simulates a wave of sign-ins. For the same reason the canary sign-in says\n"
            "`skipped`: waive it with a reason once the other two pass."
        ),
        "repoint-cicd": (
            "*Demo:* the emulator has no CodeStar Connections API (`skipped`: waive it with\n"
            "a reason once the other two pass). The migration trigger's `OLD_ROLE_ARN` is a\n"
            "deliberate reference to the source and is allowed below."
        ),
        "validate-target": (
            "*Demo:* the URLs are a small web server on 127.0.0.1 that the demo runs."
        ),
        "re-enable-source-writes": (
            "*Demo:* needed only after a rollback (`ctrl+r` once DNS is flipped): until one,\n"
            "it is skipped; after one, it comes next and the flip and every later step are\n"
            "offered again."
        ),
        "source-read-only": (
            "*Demo:* confirming this step tells the emulated DMS task that writes stopped:\n"
            "`CDCIncomingChanges` falls to 0 and CDC drains over the next minutes."
        ),
        "verify-traffic": (
            f"*Demo:* the site answers for {world.record_name} from the side its A record\n"
            f"points at: the source (no `{MARKER[0]}: {MARKER[1]}` header) until the flip."
        ),
        "watch-after-flip": (
            f"*Demo:* the window is {DEMO_WATCH['window_s']} s, a round every "
            f"{DEMO_WATCH['interval_s']} s. Nobody signs in to the emulator, so the\n"
            "sign-in and trigger criteria warn (no data: no evidence either way), which is\n"
            "not a breach; a failed criterion would stop the watch and offer `ctrl+r`."
        ),
        "final-validation": (
            "*Demo:* the emulator has no DescribeTableStatistics, so validation cannot be\n"
            "read (`skipped`, which does not pass a blocking gate): waive it with a reason."
        ),
        "stop-replication": (
            "*Demo:* the emulated task stops at once; it stays listed, `stopped`."
        ),
        "flip-dns": (
            "*Demo:* the lowered TTL has not been in force for 24 h: waive the TTL check\n"
            "with a reason, as a rehearsal may."
        ),
    }


# --- the derivation ----------------------------------------------------------------------


def _derive_accounts(book: dict[str, Any], world: DemoWorld) -> None:
    accounts = _table(book, "accounts", "")
    source = _table(accounts, "source", "accounts.")
    for key, value in (
        ("account_id", world.source_account),
        ("region", world.region),
        ("role_arn", world.source_role_arn),
        ("external_id", world.external_id),
    ):
        _swap(source, key, value, "accounts.source")
    target = _table(accounts, "target", "accounts.")
    _swap(target, "account_id", world.target_account, "accounts.target")
    _swap(target, "region", world.region, "accounts.target")
    # Structural: the target is moto's default account, reached with the demo's own
    # keys from the environment; the emulator points AWS_CONFIG_FILE at nothing, so
    # a named profile could not resolve.
    target.pop("profile", None)
    # Structural: the demo seeds no third account; its hosted zone is in the target
    # (`dns.account = "target"` below), so the shared DNS account goes.
    accounts.pop("dns", None)


def _derive_dns(book: dict[str, Any], world: DemoWorld) -> None:
    dns = _table(book, "dns", "")
    _swap(dns, "account", "target", "dns")
    _swap(dns, "zone_id", world.zone_id, "dns")
    _swap(dns, "name", world.record_name, "dns")
    _table(dns, "flip", "dns.")
    # Structural: the emulated world has no load balancer to alias; the flip is a
    # simple A record to the target's address (and rollback one back to the source's).
    dns["flip"] = {"mode": "simple", "values": [world.target_ip]}


def _derive_checks(step: dict[str, Any], world: DemoWorld) -> None:
    checks: list[dict[str, Any]] | None = step.get("checks")
    if not checks:
        return
    kept: list[dict[str, Any]] = []
    for index, check in enumerate(checks):
        check_id = str(check.get("id"))
        where = f"steps[{step['id']}].checks[{index}].params"
        if check_id == "synthetic.http" and world.site_url is None:
            # Structural: dropped when the world has no site (a runbook written outside
            # `Demo`, as the tests do): nothing would answer but the playbook's hosts.
            continue
        values = _CHECK_VALUES.get(check_id)
        if values is not None:
            params = check.get("params")
            if not isinstance(params, dict):
                raise PlaybookError(f"the bundled playbook has no {where} for the demo to swap")
            values(params, world, where)
        extra = _DEMO_PARAMS.get(check_id)
        if extra is not None:
            check.setdefault("params", {}).update(extra(world))
        kept.append(check)
    step["checks"] = kept


def _derive_action(step: dict[str, Any], world: DemoWorld) -> None:
    action = step.get("action")
    values = _DEMO_ACTION_VALUES.get(str(action.get("kind"))) if isinstance(action, dict) else None
    if values is None or not isinstance(action, dict):
        return
    for key, value in values(world).items():
        _swap(action, key, value, f"steps[{step.get('id')}].action")


def derive(playbook: Mapping[str, Any], world: DemoWorld) -> dict[str, Any]:
    """The demo runbook as a dict: the playbook with the world's values, never its own steps."""
    book: dict[str, Any] = copy.deepcopy(dict(playbook))
    migration = _table(book, "migration", "")
    _swap(migration, "name", f"{migration.get('name')} (demo)", "migration")
    _swap(migration, "environment", "rehearsal", "migration")
    _swap(migration, "ticket", "DEMO-1", "migration")
    # The run state stays inside the demo's directory, whatever the playbook says.
    _swap(migration, "state_dir", STATE_DIR, "migration")
    _derive_accounts(book, world)
    _derive_dns(book, world)
    cognito = _table(book, "cognito", "")
    _swap(cognito, "source_user_pool_id", world.source_pool_id, "cognito")
    _swap(cognito, "target_user_pool_id", world.target_pool_id, "cognito")

    notes = demo_notes(world)
    for step in book.get("steps", []):
        note = notes.get(step.get("id", ""))
        if note is not None:
            # The playbook's instructions, whole, then what differs in the demo.
            step["instructions"] = f"{step.get('instructions', '').rstrip()}\n\n{note}\n"
        _derive_checks(step, world)
        _derive_action(step, world)
        if step.get("approvals"):
            # One person rehearses alone: nobody else could approve (README says
            # how to rehearse the two-person rule with a second role).
            _swap(step, "approvals", 0, f"steps[{step.get('id')}]")
    return book


def render_runbook(world: DemoWorld, playbook: Mapping[str, Any] | None = None) -> str:
    """The demo runbook's text: the bundled playbook's steps with this world's IDs."""
    book = derive(playbook if playbook is not None else load_playbook(), world)
    return _HEADER + tomli_w.dumps(book, multiline_strings=True)


def write_runbook(directory: str | Path, world: DemoWorld) -> Path:
    """Write `runbook.toml` for the world into `directory` and return its path.

    Refuses to overwrite a runbook.toml the demo did not write. A run state left
    by an earlier demo belongs to a world that no longer exists (the emulator
    starts empty each time): it is moved aside within the directory, never
    deleted, and `world.archived_state` names where. The lag feeder then follows
    the new run state (the read-only step).
    """
    from runbook.files import STATE_FILE

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RUNBOOK_FILE
    if path.exists() and not path.read_text(encoding="utf-8").startswith(DEMO_MARKER):
        raise DemoDirectoryError(
            f"{path} exists and was not written by the demo; choose another directory"
        )
    text = render_runbook(world)  # before anything moves: a playbook error changes nothing
    state_dir = directory / STATE_DIR
    if state_dir.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        archived = directory / f"{STATE_DIR}-previous-{stamp}"
        state_dir.rename(archived)
        world.archived_state = archived
    atomic_write(path, text.encode("utf-8"))
    world.state_file = state_dir / STATE_FILE
    return path
