"""Reading the values a step's action would change: read-only, bounded, never raising.

Each kind of action that changes AWS has a describer. It reads through the
session factory with clients of short timeouts and few retries, and the whole
read runs in a daemon thread the caller waits on for at most `timeout_s`: a hung
endpoint costs the operator a few seconds and a line saying so, never the dialog.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from runbook.cognito.attributes import verified_contact
from runbook.cognito.journal import CHECKPOINT_FILE, NO_CONTACT_FILE
from runbook.dns.flip import flipped_sets, lowered_sets
from runbook.dns.records import DnsError, contains_sets, normalize_name, read_record_sets
from runbook.dns.snapshot import Snapshot
from runbook.formatting import duration, error_line, plural
from runbook.model import FlipAction, ForceMigrateAction, LowerTtlAction, Step
from runbook.preview.model import ChangePreview, SetChange
from runbook.preview.render import render

if TYPE_CHECKING:
    from runbook.runtime import Runtime

PREVIEW_TIMEOUT_S = 8.0
# Per call: a dead endpoint fails in seconds, not after the default 5 attempts.
_READ_CONFIG = Config(
    connect_timeout=2, read_timeout=4, retries={"mode": "standard", "total_max_attempts": 2}
)
# Leave this much of the deadline for the last ListUsers page and the answer.
_SCAN_MARGIN_S = 1.5
_CONTACT_ATTRIBUTES = ["email", "email_verified", "phone_number", "phone_number_verified"]

Describe = Callable[["Runtime", Any, ChangePreview, float], None]


def preview_change(
    runtime: Runtime, step: Step, *, timeout_s: float = PREVIEW_TIMEOUT_S
) -> ChangePreview | None:
    """What `step`'s action will change, as read now; None for an action with nothing to read.

    Safe to call from any thread. Returns within about `timeout_s`: on a timeout or a
    failed read the preview keeps its headline and says why in `error`.
    """
    entry = _DESCRIBERS.get(step.action.kind)
    if entry is None:
        return None
    headline, describe = entry
    deadline = time.monotonic() + timeout_s
    answer: list[ChangePreview] = []

    def work() -> None:
        preview = ChangePreview(headline(runtime, step.action))
        try:
            describe(runtime, step.action, preview, deadline)
        except Exception as exc:  # a preview never stops the confirmation
            preview.error = error_line(exc)
        answer.append(preview)

    thread = threading.Thread(target=work, name=f"preview-{step.id}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if answer:
        return answer[0]
    # The thread may still finish later; its preview is dropped, this one is returned.
    return ChangePreview(
        headline(runtime, step.action), error=f"no answer within {duration(timeout_s)}"
    )


def preview_text(
    runtime: Runtime, step: Step, *, timeout_s: float = PREVIEW_TIMEOUT_S
) -> str | None:
    """`preview_change`, rendered: what the app's dialog and `runbook do` show."""
    found = preview_change(runtime, step, timeout_s=timeout_s)
    return None if found is None else render(found)


def _client(runtime: Runtime, account: str, service: str) -> Any:
    return runtime.sessions.client(account, service, config=_READ_CONFIG)


# --- DNS -------------------------------------------------------------------------------


def _subject(record_set: dict[str, Any]) -> str:
    text = f"{normalize_name(str(record_set['Name']))} {record_set['Type']}"
    if "SetIdentifier" in record_set:
        text += f" (set {record_set['SetIdentifier']!r})"
    return text


def _values(record_set: dict[str, Any] | None) -> str:
    """What a record set answers: weight, alias target with its zone, or values and TTL."""
    if record_set is None:
        return "(no such record set)"
    parts: list[str] = []
    if "Weight" in record_set:
        parts.append(f"weight {record_set['Weight']}")
    alias = record_set.get("AliasTarget")
    if isinstance(alias, dict):
        parts.append(
            f"alias to {normalize_name(str(alias.get('DNSName')))} "
            f"(hosted zone {alias.get('HostedZoneId')})"
        )
    else:
        values = ", ".join(str(v.get("Value")) for v in record_set.get("ResourceRecords", []))
        parts += [values, f"TTL {record_set.get('TTL')}s"]
    return " · ".join(parts)


def _key(record_set: dict[str, Any]) -> tuple[str, str]:
    return str(record_set["Type"]), str(record_set.get("SetIdentifier", ""))


def _dns_where(runtime: Runtime) -> str:
    cfg = runtime.model.dns
    account = runtime.model.dns_account
    return (
        f"{normalize_name(cfg.name)} in hosted zone {cfg.zone_id} "
        f"({cfg.account} account {account.account_id})"
    )


def _flip_headline(runtime: Runtime, action: FlipAction) -> str:
    return f"Flip DNS: {_dns_where(runtime)}, every record set below in one UPSERT batch."


def _describe_flip(
    runtime: Runtime, _action: FlipAction, preview: ChangePreview, _deadline: float
) -> None:
    """Each record set the flip UPSERTs, paired with the live one it replaces."""
    cfg = runtime.model.dns
    client = _client(runtime, cfg.account, "route53")
    current = read_record_sets(client, cfg.zone_id, cfg.name)
    base = current
    snapshot_exists = runtime.snapshot_path.exists()
    if snapshot_exists:
        snapshot = Snapshot.load(runtime.snapshot_path)
        base = snapshot.record_sets
        preview.facts.append(
            f"A snapshot taken {snapshot.taken_at[:19]}Z exists: the flip sends what it "
            "derives from that snapshot, and rollback restores it."
        )
    try:
        wanted = flipped_sets(cfg, base)
    except DnsError as exc:
        preview.facts.append(f"The flip will be refused before anything is sent: {exc}")
        return
    live = {_key(rs): rs for rs in current}
    preview.changes += [
        SetChange(_subject(rs), _values(live.get(_key(rs))), _values(rs)) for rs in wanted
    ]
    if contains_sets(current, wanted):
        preview.facts.append(
            "The live records already say this: nothing will be sent."
            if snapshot_exists
            else "The live records already point at the target and there is no snapshot "
            "of the source: the flip will refuse."
        )


def _ttl_headline(runtime: Runtime, _action: LowerTtlAction) -> str:
    cutover = runtime.model.dns.cutover_ttl
    return f"Lower the TTL to {cutover}s: {_dns_where(runtime)}, in one UPSERT batch."


def _describe_lower_ttl(
    runtime: Runtime, _action: LowerTtlAction, preview: ChangePreview, _deadline: float
) -> None:
    """Each record set's TTL now and after: only those above the cutover TTL change."""
    cfg = runtime.model.dns
    current = read_record_sets(_client(runtime, cfg.account, "route53"), cfg.zone_id, cfg.name)
    try:
        changed, _previous = lowered_sets(cfg, current)
    except DnsError as exc:
        preview.facts.append(f"Nothing can be sent: {exc}")
        return
    lowered = {_key(rs) for rs in changed}
    for record_set in current:
        if "AliasTarget" in record_set:
            before, after = _values(record_set), "unchanged (an alias record has no TTL)"
        elif _key(record_set) in lowered:
            before, after = f"TTL {record_set['TTL']}s", f"TTL {cfg.cutover_ttl}s"
        else:
            before = f"TTL {record_set['TTL']}s"
            after = f"unchanged (already at or below {cfg.cutover_ttl}s)"
        preview.changes.append(SetChange(_subject(record_set), before, after))
    if not changed:
        preview.facts.append("Nothing will be sent: no record set is above the cutover TTL.")


# --- Cognito ---------------------------------------------------------------------------


def _force_headline(runtime: Runtime, action: ForceMigrateAction) -> str:
    cognito = runtime.model.cognito
    if cognito is None:
        return "Force-migrate users: no [cognito] table names the user pools."
    verb = "Dry run of force-migration" if action.dry_run else "Force-migrate users"
    return (
        f"{verb}: every user of {cognito.source_user_pool_id} (source) not yet in "
        f"{cognito.target_user_pool_id} (target) is created there."
    )


def _describe_force_migrate(
    runtime: Runtime, action: ForceMigrateAction, preview: ChangePreview, deadline: float
) -> None:
    """How many users, that each gets a reset code, and how many cannot receive one."""
    cognito = runtime.model.cognito
    if cognito is None:
        return
    source = _client(runtime, "source", "cognito-idp")  # guarded: reads only
    target = _client(runtime, "target", "cognito-idp")
    source_pool = source.describe_user_pool(UserPoolId=cognito.source_user_pool_id)["UserPool"]
    target_pool = target.describe_user_pool(UserPoolId=cognito.target_user_pool_id)["UserPool"]
    in_source = int(source_pool.get("EstimatedNumberOfUsers", 0))
    in_target = int(target_pool.get("EstimatedNumberOfUsers", 0))
    preview.facts.append(
        f"About {plural(max(0, in_source - in_target), 'user')} to create: {in_source} in the "
        f"source pool, {in_target} already in the target."
    )
    preview.facts += _resume_facts(
        runtime, cognito.source_user_pool_id, cognito.target_user_pool_id
    )
    sms = bool((target_pool.get("SmsConfiguration") or {}).get("SnsCallerArn"))
    would = "would get" if action.dry_run else "gets"
    preview.facts.append(
        f"Each user created {would} a password reset code by email"
        + (" or SMS" if sms else "")
        + " and must choose a new password at the next sign-in."
    )
    read, unreachable, complete = _scan_contacts(
        source, cognito.source_user_pool_id, sms=sms, deadline=deadline - _SCAN_MARGIN_S
    )
    contact = "verified email or phone number" if sms else "verified email"
    if complete:
        preview.facts.append(
            f"{unreachable} of {read} source users have no {contact}: they cannot receive "
            f"the code (they are created without one and listed in {NO_CONTACT_FILE})."
        )
    else:
        preview.facts.append(
            f"{unreachable} of the first {read} source users read (of about {in_source}) have "
            f"no {contact} and cannot receive the code; the rest were not read in time."
        )
    if action.dry_run:
        preview.facts.append("Dry run: nobody is created and no code is sent.")


def _resume_facts(runtime: Runtime, source_pool: str, target_pool: str) -> list[str]:
    """An unfinished pass over the same pools resumes where its checkpoint stopped."""
    path = runtime.state_dir / CHECKPOINT_FILE
    if not path.exists():
        return []
    saved = json.loads(path.read_bytes())
    same = (saved.get("source_user_pool_id"), saved.get("target_user_pool_id")) == (
        source_pool,
        target_pool,
    )
    if not same or saved.get("finished"):
        return []
    done = int((saved.get("counts") or {}).get("seen", 0))
    return [
        f"Resumes an unfinished pass at page {saved.get('page', 0)}: {plural(done, 'user')} "
        f"already done ({CHECKPOINT_FILE})."
    ]


def _scan_contacts(client: Any, pool: str, *, sms: bool, deadline: float) -> tuple[int, int, bool]:
    """(users read, users without a contact to send a code to, every page read)."""
    kwargs: dict[str, Any] = {
        "UserPoolId": pool,
        "Limit": 60,
        "AttributesToGet": _CONTACT_ATTRIBUTES,
    }
    read = unreachable = 0
    while True:
        page = client.list_users(**kwargs)
        for user in page.get("Users", []):
            attributes = {a["Name"]: a.get("Value", "") for a in user.get("Attributes", [])}
            if not sms:  # a verified phone is no contact where the pool cannot send SMS
                attributes.pop("phone_number_verified", None)
            read += 1
            unreachable += not verified_contact(attributes)
        token = page.get("PaginationToken")
        if not token:
            return read, unreachable, True
        if time.monotonic() >= deadline:
            return read, unreachable, False
        kwargs["PaginationToken"] = token


# By action kind: (the headline, known without reading; the describer that reads).
_DESCRIBERS: dict[str, tuple[Callable[[Runtime, Any], str], Describe]] = {
    "dns.flip": (_flip_headline, _describe_flip),
    "dns.lower_ttl": (_ttl_headline, _describe_lower_ttl),
    "cognito.force_migrate": (_force_headline, _describe_force_migrate),
}
