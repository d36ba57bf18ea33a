"""Lambda: a target worker deployed from a source template, still naming the source."""

from __future__ import annotations

import io
import zipfile

from runbook.demo.model import DemoWorld
from runbook.demo.seed.iam import lambda_role_arn

_WORKER_HANDLER = """\
def handler(event, context):
    return {"processed": len(event.get("Records", []))}
"""


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def seed_lambdas(world: DemoWorld) -> None:
    lam = world.client("target", "lambda")
    # Deployed from a template copied from the source: its queue URL still names the source.
    lam.create_function(
        FunctionName=world.stale_function,
        Runtime="python3.12",
        Role=lambda_role_arn(world),
        Handler="index.handler",
        Code={"ZipFile": _zip(_WORKER_HANDLER)},
        Timeout=30,
        Environment={
            "Variables": {
                "ORDERS_QUEUE_URL": (
                    f"https://sqs.{world.region}.amazonaws.com/{world.source_account}/acme-orders"
                ),
                "LOG_LEVEL": "INFO",
            }
        },
    )
