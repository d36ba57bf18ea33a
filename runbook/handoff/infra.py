"""Requests about the source's network and buckets: endpoint service, routes, ingress, S3.

S3 (user guide, "Setting up live replication" and "Replicating existing objects
with Batch Replication"): the rule lives on the versioned source bucket, with a
role S3 assumes; live replication never copies objects that predate the rule,
which S3 Batch Replication does (`s3control create-job` with `S3ReplicateObject`
and a manifest generated from the replication configuration).
"""

from __future__ import annotations

import json
import re
from typing import Any

from runbook.handoff.context import Context, param
from runbook.handoff.model import Command, Request

OVERLAP = "vpc.cidr_overlap"
PATH = "dms.network_path"
S3 = "s3.replication"
_FROM = re.compile(r"from (\d{1,3}(?:\.\d{1,3}){3}/\d{1,2})")
_PORT = re.compile(r"tcp (\d+)")


def _doc(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def network_requests(ctx: Context) -> list[Request]:
    out: list[Request] = []
    region = ctx.source.region
    for step, params in ctx.refs(OVERLAP):
        mitigation = param(params, "mitigation", "none")
        if mitigation == "privatelink":
            name = str(param(params, "endpoint_service_name", "") or "")
            service_id = name.rsplit(".", 1)[-1] if name else "<vpce-svc-id>"
            endpoints = list(param(params, "endpoint_ids", ()) or ()) or ["<vpce-id>"]
            out.append(
                Request(
                    key=f"endpoint-service:{service_id}",
                    phase="before",
                    title="A PrivateLink endpoint service in front of the source database",
                    arn=ctx.arn("ec2", f"vpc-endpoint-service/{service_id}"),
                    reason=(
                        "the VPCs' CIDRs overlap, so no peering: DMS reaches the database "
                        "through an interface endpoint in the target to a Network Load Balancer "
                        "in the source"
                    ),
                    verify=ctx.verify(OVERLAP, step.id),
                    when_step=step.id,
                    commands=(
                        Command(
                            "ec2",
                            "CreateVpcEndpointServiceConfiguration",
                            {
                                "NetworkLoadBalancerArns": [
                                    ctx.arn(
                                        "elasticloadbalancing",
                                        "loadbalancer/net/<db-nlb-name>/<nlb-id>",
                                    )
                                ],
                                "AcceptanceRequired": True,
                            },
                            region,
                        ),
                        Command(
                            "ec2",
                            "ModifyVpcEndpointServicePermissions",
                            {
                                "ServiceId": service_id,
                                "AddAllowedPrincipals": [f"arn:aws:iam::{ctx.target_id}:root"],
                            },
                            region,
                        ),
                        Command(
                            "ec2",
                            "AcceptVpcEndpointConnections",
                            {"ServiceId": service_id, "VpcEndpointIds": endpoints},
                            region,
                        ),
                    ),
                    console=(
                        "VPC console > Endpoint services > Create endpoint service (the NLB "
                        "whose target is the database) > Allow principals > Endpoint connections "
                        "> Accept"
                    ),
                    notes=(
                        f"tell us the service name (the runbook expects {name or 'it'})",
                        "the NLB's target group holds the database's IP and port",
                    ),
                )
            )
        elif mitigation == "transit_nat":
            peerings = list(param(params, "peering_ids", ()) or ()) or ["<pcx-id>"]
            commands = [
                Command("ec2", "AcceptVpcPeeringConnection", {"VpcPeeringConnectionId": p}, region)
                for p in peerings
            ]
            commands.append(
                Command(
                    "ec2",
                    "CreateRoute",
                    {
                        "RouteTableId": "<source-route-table-id>",
                        "DestinationCidrBlock": "<transit-cidr>",
                        "VpcPeeringConnectionId": peerings[0],
                    },
                    region,
                )
            )
            out.append(
                Request(
                    key=f"transit-routes:{param(params, 'source_vpc_id')}",
                    phase="before",
                    title="Peering to the transit VPC, and routes to it in the source VPC",
                    arn=ctx.arn("ec2", "route-table/<source-route-table-id>"),
                    reason=(
                        "the VPCs' CIDRs overlap: traffic crosses a transit VPC with NAT, which "
                        "needs the source's half of the peering and a route in each subnet's "
                        "route table"
                    ),
                    verify=ctx.verify(OVERLAP, step.id),
                    when_step=step.id,
                    commands=tuple(commands),
                    console=(
                        "VPC console > Peering connections > Accept; Route tables > Edit routes"
                    ),
                    notes=("one route per route table the workload's subnets use",),
                )
            )
    out.extend(_ingress(ctx))
    return out


def _ingress(ctx: Context) -> list[Request]:
    """The database's security group admits DMS (or the endpoint service's NLB)."""
    out: list[Request] = []
    seen: set[str] = set()
    privatelink = any(param(p, "mitigation") == "privatelink" for _s, p in ctx.refs(OVERLAP))
    for step, params in ctx.refs(PATH):
        task = str(param(params, "task_id", "<dms-task>"))
        if task in seen:
            continue
        seen.add(task)
        evidence = ctx.evidence.of(PATH, step.id)
        said = [str(i) for i in evidence.get("instructions") or []]
        groups = [str(g) for g in evidence.get("security_groups") or []] or ["<db-security-group>"]
        port = evidence.get("port")
        cidrs = sorted({m.group(1) for line in said for m in _FROM.finditer(line)})
        if port is None:
            ports = [int(m.group(1)) for line in said for m in _PORT.finditer(line)]
            port = ports[0] if ports else None
        source = "the endpoint service's NLB" if privatelink else "the DMS replication instance"
        if not cidrs:
            cidrs = ["<nlb-subnet-cidr>" if privatelink else "<dms-instance-ip>/32"]
        rule = {
            "IpProtocol": "tcp",
            "FromPort": int(port) if port is not None else 3306,
            "ToPort": int(port) if port is not None else 3306,
            "IpRanges": [
                {"CidrIp": c, "Description": f"DMS {task} (migration to {ctx.target_id})"}
                for c in cidrs
            ],
        }
        notes = [] if port is not None else ["port 3306 shown: use the database's port"]
        out.append(
            Request(
                key=f"db-ingress:{task}",
                phase="before",
                title=f"Let {source} reach the source database",
                arn=ctx.arn("ec2", f"security-group/{groups[0]}"),
                reason=(
                    f"DMS task {task} connects to the database on tcp {rule['FromPort']}; the "
                    "database's security group must admit it, and nothing wider"
                ),
                verify=ctx.verify(PATH, step.id),
                when_step=step.id,
                commands=tuple(
                    Command(
                        "ec2",
                        "AuthorizeSecurityGroupIngress",
                        {"GroupId": g, "IpPermissions": [rule]},
                        ctx.source.region,
                    )
                    for g in groups[:1]
                ),
                console=f"EC2 console > Security groups > {groups[0]} > Edit inbound rules",
                notes=tuple(notes),
                evidence=tuple(f"latest {PATH}: {line}" for line in said),
            )
        )
    return out


def replication_policy(source: str, target: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{source}",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                ],
                "Resource": f"arn:aws:s3:::{source}/*",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                "Resource": f"arn:aws:s3:::{target}/*",
            },
            # Batch Replication of the objects older than the rule, with the same role.
            {
                "Effect": "Allow",
                "Action": ["s3:InitiateReplication"],
                "Resource": f"arn:aws:s3:::{source}/*",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:PutInventoryConfiguration"],
                "Resource": f"arn:aws:s3:::{source}",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject"],
                "Resource": "arn:aws:s3:::<report-bucket>/batch-replication/*",
            },
        ],
    }


S3_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["s3.amazonaws.com", "batchoperations.s3.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


def bucket_requests(ctx: Context) -> list[Request]:
    out: list[Request] = []
    region, account = ctx.source.region, ctx.source.account_id
    for step, params in ctx.refs(S3):
        evidence = ctx.evidence.of(S3, step.id).get("buckets") or {}
        for pair in param(params, "buckets", ()) or ():
            src, dst = str(pair.source_bucket), str(pair.target_bucket)
            seen = evidence.get(src) if isinstance(evidence, dict) else None
            seen = seen if isinstance(seen, dict) else {}
            role = f"{src}-replication"[:64]
            role_arn = f"arn:aws:iam::{account}:role/{role}"
            rule: dict[str, Any] = {
                "ID": f"migrate-to-{dst}"[:255],
                "Status": "Enabled",
                "Priority": 1,
                "Filter": {},
                "DeleteMarkerReplication": {"Status": "Disabled"},
                "Destination": {"Bucket": f"arn:aws:s3:::{dst}", "Account": ctx.target_id},
            }
            kms = str(seen.get("default_encryption") or "").startswith("aws:kms")
            if kms:
                rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
                rule["Destination"]["EncryptionConfiguration"] = {
                    "ReplicaKmsKeyID": f"arn:aws:kms:{region}:{ctx.target_id}:key/<target-key-id>"
                }
            config = {"Role": role_arn, "Rules": [rule]}
            said = [
                f"latest {S3}: {p}" for p in [*seen.get("problems", []), *seen.get("warnings", [])]
            ]
            verify = ctx.verify(S3, step.id)
            out.append(
                Request(
                    key=f"s3-replication:{src}",
                    phase="before",
                    title=f"Replicate {src} live to {dst}",
                    arn=f"arn:aws:s3:::{src}",
                    reason=(
                        f"objects written to {src} must reach {dst} in the target account "
                        "while both sides run; the rule lives on the source bucket"
                    ),
                    verify=verify,
                    when_step=step.id,
                    commands=(
                        Command(
                            "s3",
                            "PutBucketVersioning",
                            {"Bucket": src, "VersioningConfiguration": {"Status": "Enabled"}},
                            region,
                        ),
                        Command(
                            "iam",
                            "CreateRole",
                            {"RoleName": role, "AssumeRolePolicyDocument": _doc(S3_TRUST)},
                            files={"AssumeRolePolicyDocument": "s3-replication-trust.json"},
                        ),
                        Command(
                            "iam",
                            "PutRolePolicy",
                            {
                                "RoleName": role,
                                "PolicyName": "replicate-to-target",
                                "PolicyDocument": _doc(replication_policy(src, dst)),
                            },
                            files={"PolicyDocument": f"{role}-policy.json"},
                        ),
                        Command(
                            "s3",
                            "PutBucketReplication",
                            {"Bucket": src, "ReplicationConfiguration": config},
                            region,
                            files={"ReplicationConfiguration": f"{src}-replication.json"},
                        ),
                    ),
                    console=(
                        f"S3 console > {src} > Management > Replication rules > Create "
                        "replication rule > destination in another account"
                    ),
                    notes=(
                        "kms:Decrypt on the source key and kms:Encrypt on the replica key go in "
                        "the role's policy when objects are SSE-KMS"
                        if kms
                        else "the target bucket's policy (ours) admits this role",
                    ),
                    evidence=tuple(said),
                )
            )
            out.append(
                Request(
                    key=f"s3-existing:{src}",
                    phase="before",
                    title=f"Copy the objects {src} held before the rule (Batch Replication)",
                    arn=f"arn:aws:s3:::{src}",
                    reason="live replication never copies objects that existed before the rule",
                    verify=ctx.verify(S3, step.id, "pass with existing_objects_copied = true"),
                    when_step=step.id,
                    commands=(
                        Command(
                            "s3control",
                            "CreateJob",
                            {
                                "AccountId": account,
                                "ConfirmationRequired": False,
                                "Operation": {"S3ReplicateObject": {}},
                                "Report": {
                                    "Bucket": "arn:aws:s3:::<report-bucket>",
                                    "Format": "Report_CSV_20180820",
                                    "Enabled": True,
                                    "Prefix": f"batch-replication/{src}",
                                    "ReportScope": "AllTasks",
                                },
                                "Priority": 1,
                                "RoleArn": role_arn,
                                "ManifestGenerator": {
                                    "S3JobManifestGenerator": {
                                        "SourceBucket": f"arn:aws:s3:::{src}",
                                        "EnableManifestOutput": False,
                                        "Filter": {
                                            "EligibleForReplication": True,
                                            "ObjectReplicationStatuses": ["NONE", "FAILED"],
                                        },
                                    }
                                },
                            },
                            region,
                            files={"ManifestGenerator": f"{src}-manifest.json"},
                        ),
                    ),
                    console=(
                        "S3 console > Batch Operations > Create job > Create manifest using S3 "
                        f"Replication configuration ({src}) > Replicate"
                    ),
                    notes=(
                        "runs as the replication role above (its policy allows Batch Replication)",
                        "tell us when the job is Complete: we then set existing_objects_copied",
                    ),
                )
            )
    return out
