"""409 ConditionalRequestConflict: AWS answers it to a conditional write racing another
(documented: "retry the upload"); moto never does, so botocore's Stubber plays S3 here."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import boto3
from botocore.response import StreamingBody
from botocore.stub import Stubber

from runbook.audit.record import GENESIS, canonical, record_hash
from runbook.backend.chain import SharedChain
from runbook.backend.store import ObjectStore, S3Location

BUCKET, PREFIX = "runbook-team-stub", "runs/x"


def winner() -> bytes:
    record = {
        "seq": 1,
        "time": datetime.now(UTC).isoformat(),
        "run_id": "r",
        "operator": {},
        "environment": "rehearsal",
        "step": None,
        "event": "other.writer",
        "details": {},
        "prev_hash": GENESIS,
    }
    record["hash"] = record_hash(record)
    return canonical(record) + b"\n"


def test_a_409_on_create_is_a_lost_race_the_writer_chains_onto_the_winner() -> None:
    client = boto3.client("s3", region_name="us-east-1")
    stub = Stubber(client)
    listing = {"Bucket": BUCKET, "Prefix": f"{PREFIX}/audit/"}
    stub.add_response("list_objects_v2", {"IsTruncated": False, "KeyCount": 0}, listing)
    stub.add_client_error(
        "put_object",
        service_error_code="ConditionalRequestConflict",
        http_status_code=409,
        expected_params=None,
    )
    first = f"{PREFIX}/audit/000000000001.json"
    stub.add_response(
        "list_objects_v2", {"IsTruncated": False, "Contents": [{"Key": first}]}, listing
    )
    body = winner()
    stub.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "ETag": '"e1"'},
        {"Bucket": BUCKET, "Key": first},
    )
    stub.add_response("put_object", {"ETag": '"e2"'}, None)
    with stub:
        chain = SharedChain(ObjectStore(client, S3Location(BUCKET, PREFIX)))
        record = chain.append(
            {
                "time": datetime.now(UTC).isoformat(),
                "run_id": "r",
                "operator": {},
                "environment": "rehearsal",
                "step": None,
                "event": "mine",
                "details": {},
            }
        )
        stub.assert_no_pending_responses()
    assert record["seq"] == 2
    assert record["prev_hash"] == json.loads(body)["hash"]
