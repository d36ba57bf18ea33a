"""`runbook handoff`: every source-side change the runbook's steps imply, in order, checkable.

The expected list is derived here from the runbook's steps and the playbook's
needs (which checks imply which source changes), independently of the builder.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import botocore.loaders
import pytest
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

from runbook.audit.log import AuditLog
from runbook.handoff.build import build_handoff
from runbook.handoff.model import Handoff
from runbook.handoff.render import render_markdown
from runbook.loader import load
from runbook.registry import CheckRegistry
from runbook.runtime import AUDIT_FILE

BUNDLED = Path(__file__).resolve().parents[2] / "runbook.toml"
PHASE_ORDER = ["before", "cutover", "rollback", "decommission"]

Entry = tuple[str, str, str | None, str]  # phase, verifying check, its step, resource ARN


def copy_bundled(tmp_path: Path) -> Path:
    path = tmp_path / "runbook.toml"
    shutil.copy(BUNDLED, path)
    return path


def expected(raw: dict[str, Any]) -> set[Entry]:
    """The source changes the playbook needs, read off the runbook's steps."""
    source = raw["accounts"]["source"]
    region, account = source["region"], source["account_id"]

    def arn(service: str, resource: str) -> str:
        return f"arn:aws:{service}:{region}:{account}:{resource}"

    out: set[Entry] = set()
    first: dict[str, str] = {}
    for step in raw["steps"]:
        for ref in step.get("checks", []):
            first.setdefault(ref["id"], step["id"])
    if source.get("role_arn"):  # the tool's own read role, proven by the first gate
        out.add(("before", "identity.accounts", first["identity.accounts"], source["role_arn"]))
    for step in raw["steps"]:
        sid = step["id"]
        for ref in step.get("checks", []):
            check, p = ref["id"], ref.get("params", {})
            if check == "vpc.cidr_overlap" and p.get("mitigation") == "privatelink":
                service = p["endpoint_service_name"].rsplit(".", 1)[-1]
                out.add(("before", check, sid, arn("ec2", f"vpc-endpoint-service/{service}")))
            elif check == "dms.network_path":
                out.add(("before", check, sid, arn("ec2", "security-group/<db-security-group>")))
            elif check == "dms.source_replica":
                out.add(("before", check, sid, arn("rds", "db:<read-replica-id>")))
                out.add(("before", check, sid, arn("rds", "pg:<replica-parameter-group>")))
            elif check == "s3.replication":
                for pair in p["buckets"]:
                    out.add(("before", check, sid, f"arn:aws:s3:::{pair['source_bucket']}"))
            elif check == "cognito.migration_trigger":
                out.add(("before", check, sid, p["source_role_arn"]))
                pool = raw["cognito"]["source_user_pool_id"]
                out.add(("before", check, sid, arn("cognito-idp", f"userpool/{pool}")))
            elif check == "cognito.canary_signin":
                pool = raw["cognito"]["source_user_pool_id"]
                out.add(("before", check, sid, arn("cognito-idp", f"userpool/{pool}")))
    if "source.writes_stopped" in first:  # the read-only step: revoked, and granted back
        writer = arn("rds", "db:<source-writer-id>")
        out.add(("cutover", "source.writes_stopped", first["source.writes_stopped"], writer))
        out.add(("rollback", "source.writes_stopped", first["source.writes_stopped"], writer))
    return out


def entries(handoff: Handoff, *phases: str) -> set[Entry]:
    return {
        (r.phase, r.verify.check, r.verify.step, r.arn)
        for r in handoff.requests
        if r.phase in phases
    }


def test_bundled_runbook_lists_every_source_change_in_order(tmp_path: Path) -> None:
    registry = CheckRegistry.discover()
    loaded = load(copy_bundled(tmp_path), registry)
    handoff = build_handoff(loaded, registry)
    raw = tomllib.loads(BUNDLED.read_text(encoding="utf-8"))

    assert entries(handoff, "before", "cutover", "rollback") == expected(raw)
    # Decommission removes each thing the migration added (the client's flow stays; the
    # replica's parameter group goes with the replica).
    made = {(c, a) for ph, c, _s, a in entries(handoff, "before") if ":pg:" not in a}
    made.discard(("cognito.migration_trigger", entries_pool_arn(raw)))
    assert {(c, a) for _p, c, _s, a in entries(handoff, "decommission")} == made
    assert all(r.verify.expect.startswith("fail") for r in handoff.in_phase("decommission"))
    assert handoff.requests[-1].key == "remove:read-role"

    # In order: phases, then the runbook's steps before the cutover.
    phases = [PHASE_ORDER.index(r.phase) for r in handoff.requests]
    assert phases == sorted(phases)
    steps = [s["id"] for s in raw["steps"]]
    before = [steps.index(r.verify.step or "") for r in handoff.in_phase("before")]
    assert before == sorted(before)

    # Every verifying check is one the runbook runs at that step.
    for request in handoff.requests:
        assert request.verify.step is not None, request.key
        step = next(s for s in raw["steps"] if s["id"] == request.verify.step)
        assert request.verify.check in {c["id"] for c in step.get("checks", [])}, request.key
        assert request.commands or request.sql, request.key
        assert request.reason and request.arn.startswith("arn:aws:"), request.key
    revoke = next(r for r in handoff.requests if r.key == "revoke-writes")
    assert revoke.when_step == "source-read-only"
    assert any(s.startswith("REVOKE INSERT, UPDATE, DELETE") for s in revoke.sql)
    grant = next(r for r in handoff.requests if r.key == "grant-writes")
    assert any(s.startswith("GRANT INSERT, UPDATE, DELETE") for s in grant.sql)
    assert handoff.audit_log is None and all(r.status is None for r in handoff.requests)


def entries_pool_arn(raw: dict[str, Any]) -> str:
    source = raw["accounts"]["source"]
    pool = raw["cognito"]["source_user_pool_id"]
    return f"arn:aws:cognito-idp:{source['region']}:{source['account_id']}:userpool/{pool}"


# --- the commands are real API calls -----------------------------------------------------


def validate_commands(handoff: Handoff) -> int:
    """Validate each command's parameters against botocore's service model; the count."""
    loader = botocore.loaders.create_loader()
    validator = ParamValidator()
    count = 0
    for request in handoff.requests:
        for command in request.commands:
            model = ServiceModel(loader.load_service_model(command.service, "service-2"))
            shape = model.operation_model(command.operation).input_shape
            # The CLI (like botocore's client) fills idempotency tokens itself.
            tokens = {
                name: "token"
                for name, member in shape.members.items()
                if member.metadata.get("idempotencyToken") and name not in command.params
            }
            report = validator.validate({**command.params, **tokens}, shape)
            assert not report.has_errors(), (request.key, report.generate_report())
            assert command.cli().startswith("aws "), request.key
            count += 1
    return count


def record_results(state_dir: Path, results: list[dict[str, Any]]) -> Path:
    path = state_dir / AUDIT_FILE
    state_dir.mkdir(parents=True, exist_ok=True)
    log = AuditLog(path, run_id="r1", environment="rehearsal", operator={"local_user": "t"})
    for result in results:
        log.record("check.result", **result)
    log.close()
    return path


def result(step: str, check: str, status: str, **evidence: Any) -> dict[str, Any]:
    return {
        "step": step,
        "check": check,
        "status": status,
        "summary": f"{check} {status}",
        "details": [],
        "evidence": evidence,
    }


def test_commands_validate_against_the_service_models(tmp_path: Path) -> None:
    registry = CheckRegistry.discover()
    loaded = load(copy_bundled(tmp_path), registry)
    assert validate_commands(build_handoff(loaded, registry)) >= 25
    # The engine-specific branches too.
    for engine in ("postgres", "aurora-mysql"):
        state = tmp_path / engine
        record_results(
            state,
            [result("replicate-database", "dms.source_replica", "pass", engine=engine, db="x")],
        )
        handoff = build_handoff(loaded, registry, state / AUDIT_FILE)
        validate_commands(handoff)
        keys = {r.key.split(":")[0] for r in handoff.requests}
        assert ("replica-logical" in keys) == (engine == "postgres")
        assert ("aurora-cdc" in keys) == (engine == "aurora-mysql")
        assert "replica-binlog" not in keys


def test_latest_evidence_names_the_real_resources(tmp_path: Path) -> None:
    path = copy_bundled(tmp_path)
    registry = CheckRegistry.discover()
    loaded = load(path, registry)
    record_results(
        loaded.state_dir,
        [
            result("replicate-database", "dms.source_replica", "fail", engine="mysql"),
            result(
                "replicate-database",
                "dms.source_replica",
                "pass",
                engine="mysql",
                db="acme-db-replica",
                replica_of="acme-db",
                parameter_group="acme-mysql8-cdc",
            ),
            result(
                "connect-networks",
                "dms.network_path",
                "fail",
                db="acme-db-replica",
                port=3306,
                security_groups=["sg-0abc1234def567890"],
                instructions=[
                    "ask the source owner to allow inbound tcp 3306 from 10.1.2.3/32 on "
                    "sg-0abc1234def567890 (database acme-db-replica), with a route back"
                ],
            ),
            result(
                "replicate-objects",
                "s3.replication",
                "warn",
                buckets={"acme-prod-uploads": {"default_encryption": "aws:kms", "problems": []}},
            ),
        ],
    )
    handoff = build_handoff(loaded, registry)
    by_key = {r.key: r for r in handoff.requests}
    task = "acme-prod-full-load-cdc"

    replica = by_key[f"replica:{task}"]
    assert replica.arn == "arn:aws:rds:eu-west-1:111111111111:db:acme-db-replica"
    assert replica.status is not None and replica.status.status == "pass"  # the newest result
    assert f"replica-logical:{task}" not in by_key  # MySQL: binlog, not logical replication
    binlog = by_key[f"replica-binlog:{task}"]
    assert binlog.arn.endswith(":pg:acme-mysql8-cdc")
    assert binlog.commands[0].params["DBParameterGroupName"] == "acme-mysql8-cdc"
    for key in ("revoke-writes", "grant-writes"):
        assert by_key[key].arn == "arn:aws:rds:eu-west-1:111111111111:db:acme-db"
    revoke_sql = "\n".join(by_key["revoke-writes"].sql)
    assert "rds_kill" in revoke_sql and "PostgreSQL" not in revoke_sql

    ingress = by_key[f"db-ingress:{task}"]
    assert ingress.arn.endswith(":security-group/sg-0abc1234def567890")
    (rule,) = ingress.commands[0].params["IpPermissions"]
    assert (rule["FromPort"], [r["CidrIp"] for r in rule["IpRanges"]]) == (3306, ["10.1.2.3/32"])
    assert ingress.status is not None and ingress.status.status == "fail"

    uploads = by_key["s3-replication:acme-prod-uploads"]
    config = uploads.commands[-1].params["ReplicationConfiguration"]
    assert config["Rules"][0]["SourceSelectionCriteria"] == {
        "SseKmsEncryptedObjects": {"Status": "Enabled"}
    }
    exports = by_key["s3-replication:acme-prod-exports"]
    assert (
        "SourceSelectionCriteria"
        not in exports.commands[-1].params["ReplicationConfiguration"]["Rules"][0]
    )
    validate_commands(handoff)


def test_trigger_role_trusts_the_lambda_role_the_check_read(tmp_path: Path) -> None:
    path = copy_bundled(tmp_path)
    registry = CheckRegistry.discover()
    loaded = load(path, registry)
    role = "arn:aws:iam::222222222222:role/acme-user-migration-exec"
    found = result("migrate-users-lazily", "cognito.migration_trigger", "pass")
    found["evidence"] = {"lambda": {"role": role}, "source_auth_flows": ["ALLOW_USER_SRP_AUTH"]}
    record_results(loaded.state_dir, [found])
    by_key = {r.key: r for r in build_handoff(loaded, registry).requests}
    trigger = by_key["trigger-role"]
    assert trigger.arn == "arn:aws:iam::111111111111:role/cognito-migration-read"
    (name, trust), _policy = trigger.commands[0].documents()[0], trigger.commands[1].documents()
    assert name == "cognito-migration-read-trust.json"
    assert f'"AWS": "{role}"' in trust and '"sts:ExternalId": "runbook-cutover"' in trust
    flows = by_key["source-client-flow"].commands[0].params["ExplicitAuthFlows"]
    assert flows == sorted(
        ["ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )


def test_markdown_is_inert_and_lists_each_request(tmp_path: Path) -> None:
    registry = CheckRegistry.discover()
    loaded = load(copy_bundled(tmp_path), registry)
    record_results(
        loaded.state_dir,
        [
            {
                **result("replicate-objects", "s3.replication", "fail"),
                "summary": "| <script>alert(1)</script> [x](http://evil)",
            }
        ],
    )
    handoff = build_handoff(loaded, registry)
    text = render_markdown(handoff)
    assert "<script>" not in text and "[x](http" not in text
    for number, request in enumerate(handoff.requests, start=1):
        assert f"### {number}. " in text
        assert f"`{request.arn}`" in text
        assert f"`{request.verify.check}`" in text
    for title in ("Before the cutover", "At the cutover", "After a rollback", "At decommission"):
        assert f"## {title}" in text


@pytest.mark.parametrize("mitigation", ["transit_nat", "none"])
def test_network_requests_follow_the_mitigation(tmp_path: Path, mitigation: str) -> None:
    text = BUNDLED.read_text(encoding="utf-8")
    old = 'mitigation = "privatelink", endpoint_ids = ["vpce-0123456789abcdef0"], '
    assert old in text
    new = (
        'mitigation = "transit_nat", transit_vpc_id = "vpc-0123456789abcdef0", '
        'peering_ids = ["pcx-0123456789abcdef0", "pcx-0fedcba9876543210"], '
        if mitigation == "transit_nat"
        else 'mitigation = "none", '
    )
    text = text.replace(old, new).replace(
        ', endpoint_service_name = "com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0"', ""
    )
    path = tmp_path / "runbook.toml"
    path.write_text(text)
    registry = CheckRegistry.discover()
    handoff = build_handoff(load(path, registry), registry)
    keys = [r.key.split(":")[0] for r in handoff.in_phase("before")]
    assert "endpoint-service" not in keys
    assert ("transit-routes" in keys) == (mitigation == "transit_nat")
    validate_commands(handoff)
