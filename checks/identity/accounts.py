"""identity.accounts: every configured account is the one the runbook names."""

from __future__ import annotations

from runbook.aws.identity import compare
from runbook.checkapi import Check, CheckContext, CheckMeta, CheckResult, NoParams
from runbook.formatting import plural


class AccountsCheck(Check[NoParams]):
    meta = CheckMeta(
        id="identity.accounts",
        proves_identity=True,
        title="Each account is the one the runbook names",
        account="both",
        blocking=True,
        severity="critical",
        iam_actions=("sts:GetCallerIdentity",),
        remediation=(
            "Select the right profile or role for each account (AWS_PROFILE, `aws sso login`, "
            "or the runbook's profile/role_arn) and check the account IDs in runbook.toml."
        ),
    )

    def run(self, ctx: CheckContext, params: NoParams) -> CheckResult:
        findings = compare(ctx.sessions, ctx.runbook)
        details = []
        for f in findings:
            if f.error is not None:
                details.append(f"{f.account}: expected {f.expected}, could not ask: {f.error}")
            elif f.ok:
                details.append(f"{f.account}: {f.actual} as {f.arn}")
            else:
                details.append(f"{f.account}: expected {f.expected} but credentials are {f.actual}")
        evidence = {
            f.account: {"expected": f.expected, "actual": f.actual, "arn": f.arn} for f in findings
        }
        if any(f.error is not None for f in findings):
            return CheckResult.errored("could not confirm every account", details, **evidence)
        bad = [f.account for f in findings if not f.ok]
        if bad:
            return CheckResult.failed(f"wrong account for: {', '.join(bad)}", details, **evidence)
        confirmed = plural(len(findings), "account")
        return CheckResult.passed(f"{confirmed} confirmed", details, **evidence)
