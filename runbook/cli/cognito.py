"""`lambda package`: the Cognito UserMigration trigger as a deployable zip."""

from __future__ import annotations

import argparse

from runbook.cli.output import EXIT_OK


def cmd_lambda(args: argparse.Namespace) -> int:
    from runbook.cognito.trigger.package import HANDLER, REQUIREMENTS, build_zip

    path = build_zip(args.out)
    print(
        f"{path}: handler {HANDLER}, Python 3.11+, timeout 5 s. Attach it as the target "
        "pool's Migrate user and Post authentication triggers; set MFA_POLICY to the "
        "runbook's cognito.mfa_challenge. " + REQUIREMENTS
    )
    return EXIT_OK
