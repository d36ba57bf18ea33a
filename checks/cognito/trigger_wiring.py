"""What makes the UserMigration trigger work end to end, judged from policy documents.

A helper of `cognito.migration_trigger` (no check here): the Lambda's resource
policy, the function role's identity policies, the source role's trust policy and
the MFA settings, each judged as AWS documents them. Every judgement is a
`Verdict`: `ok`, `warn` (works, with a risk or something that could not be
decided, named in `reason`) or `fail`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

COGNITO_PRINCIPAL = "cognito-idp.amazonaws.com"
ASSUME_ROLE = "sts:AssumeRole"
INVOKE = "lambda:InvokeFunction"

Outcome = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str = ""


class Findings:
    """Problems (fail) and warnings by a short name, with the full explanation; notes."""

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}
        self.warnings: dict[str, str] = {}
        self.notes: list[str] = []

    def problem(self, name: str, message: str) -> None:
        self.problems.setdefault(name, message)

    def warning(self, name: str, message: str) -> None:
        self.warnings.setdefault(name, message)

    def add(self, name: str, verdict: Verdict) -> None:
        if verdict.outcome == "fail":
            self.problem(name, verdict.reason)
        elif verdict.outcome == "warn":
            self.warning(name, verdict.reason)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def iam_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one character, nothing else."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern))
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _conditions(statement: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(operator, lower-cased key, values) of each condition in a statement."""
    return [
        (str(operator), str(key).lower(), [str(v) for v in as_list(values)])
        for operator, block in (statement.get("Condition") or {}).items()
        if isinstance(block, dict)
        for key, values in block.items()
    ]


def _action_matches(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(
            iam_match(p, action, ignore_case=True) for p in as_list(statement["NotAction"])
        )
    return any(iam_match(p, action, ignore_case=True) for p in as_list(statement.get("Action")))


def _resource_matches(statement: dict[str, Any], arn: str) -> bool:
    if "NotResource" in statement:
        return not any(iam_match(p, arn) for p in as_list(statement["NotResource"]))
    return any(iam_match(p, arn) for p in as_list(statement.get("Resource")))


# --- the Lambda's resource policy ---------------------------------------------------


def _names_cognito(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return COGNITO_PRINCIPAL in as_list(principal.get("Service")) or "*" in as_list(
        principal.get("AWS")
    )


def invoke_verdict(policy: dict[str, Any], pool_arn: str) -> Verdict:
    """May Cognito, invoked for this pool, call the function under this resource policy?

    AWS recommends an `aws:SourceArn` condition naming the pool (without one, any
    user pool in any account could invoke the function: the confused deputy). A
    statement scoped to another pool or account does not count; an explicit Deny wins.
    """
    account = pool_arn.split(":")[4] if pool_arn.count(":") >= 5 else ""
    scoped, unknown = False, []
    unscoped: list[bool] = []  # per statement with no aws:SourceArn: pinned to the account?
    for statement in as_list(policy.get("Statement")):
        if not isinstance(statement, dict) or not _names_cognito(statement):
            continue
        if not _action_matches(statement, INVOKE):
            continue
        applies, pinned, by_account, other = True, False, False, []
        for _operator, key, values in _conditions(statement):
            if key == "aws:sourcearn":
                applies &= any(iam_match(v, pool_arn) for v in values)
                pinned = True
            elif key == "aws:sourceaccount":
                applies &= any(iam_match(v, account) for v in values)
                by_account = True
            else:
                other.append(key)
        if statement.get("Effect") == "Deny":
            if applies and not other:
                return Verdict("fail", f"a Deny statement stops {COGNITO_PRINCIPAL} invoking it")
            continue
        if statement.get("Effect") != "Allow" or not applies:
            continue
        if other:
            unknown.extend(other)
        elif pinned:
            scoped = True
        else:
            unscoped.append(by_account)
    if scoped:
        return Verdict("ok")
    if unscoped:
        which = (
            f"any user pool in account {account}"
            if all(unscoped)
            else "any user pool, in any account,"
        )
        return Verdict(
            "warn",
            f"the Lambda's resource policy lets {COGNITO_PRINCIPAL} invoke it with no "
            f"aws:SourceArn condition: {which} may invoke it (the confused deputy); AWS "
            f"recommends aws:SourceArn = {pool_arn}",
        )
    if unknown:
        return Verdict(
            "warn",
            f"the Lambda's resource policy lets {COGNITO_PRINCIPAL} invoke it only under "
            f"conditions not evaluated here ({', '.join(sorted(set(unknown)))})",
        )
    return Verdict(
        "fail",
        f"the Lambda's resource policy does not let {COGNITO_PRINCIPAL} invoke it for "
        f"{pool_arn}: every sign-in that reaches the trigger would fail",
    )


# --- the function role's identity policies ------------------------------------------


def allows_action(
    documents: list[tuple[str, dict[str, Any]]], action: str, resource: str
) -> Verdict:
    """Identity policies (name, document) judged for one action on one resource."""
    allowed: list[str] = []
    conditional_allow: list[str] = []
    conditional_deny: list[str] = []
    for name, document in documents:
        for statement in as_list(document.get("Statement")):
            if not isinstance(statement, dict):
                continue
            if not (_action_matches(statement, action) and _resource_matches(statement, resource)):
                continue
            conditional = bool(statement.get("Condition"))
            if statement.get("Effect") == "Deny":
                if not conditional:
                    return Verdict("fail", f"{name} denies {action} on {resource}")
                conditional_deny.append(name)
            elif statement.get("Effect") == "Allow":
                (conditional_allow if conditional else allowed).append(name)
    if conditional_deny:
        return Verdict(
            "warn",
            f"a Deny of {action} under a condition in {', '.join(conditional_deny)} "
            "may apply; not evaluated here",
        )
    if allowed:
        return Verdict("ok", ", ".join(allowed))
    if conditional_allow:
        return Verdict(
            "warn",
            f"only a conditional Allow of {action} ({', '.join(conditional_allow)}); "
            "its condition was not evaluated",
        )
    return Verdict("fail", f"no policy allows {action} on {resource}")


def simulation_verdict(result: dict[str, Any], static: Verdict) -> Verdict:
    """Fold one SimulatePrincipalPolicy result into the static reading.

    Without the trust policy the cross-account simulation may answer implicitDeny
    for the trusting side alone, so only what it says of the identity side counts:
    an explicit deny, a permissions boundary or an SCP (Organizations) that stops
    the call. An `allowed` answer settles a static reading that could not decide.
    """
    if (result.get("OrganizationsDecisionDetail") or {}).get("AllowedByOrganizations") is False:
        return Verdict("fail", "a service control policy (Organizations) denies it")
    boundary = result.get("PermissionsBoundaryDecisionDetail") or {}
    if boundary.get("AllowedByPermissionsBoundary") is False:
        return Verdict("fail", "the role's permissions boundary does not allow it")
    if result.get("EvalDecision") == "explicitDeny":
        ids = sorted(
            {str(s.get("SourcePolicyId", "?")) for s in result.get("MatchedStatements", [])}
        )
        return Verdict("fail", f"explicitly denied ({', '.join(ids) or 'policy not named'})")
    if result.get("EvalDecision") == "allowed" and static.outcome == "warn":
        return Verdict("ok", "the IAM policy simulator")
    return static


# --- the source role's trust policy -------------------------------------------------


@dataclass
class Trust:
    """What the source role's trust policy says about the function's role."""

    trusted: bool = False
    principal: str | None = None
    external_id_required: bool = False
    external_id_matches: bool = False
    other_conditions: list[str] = field(default_factory=list)
    denied: bool = False


def _trust_principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        return []
    return [str(p) for p in as_list(principal.get("AWS"))]


def _statement_trust(
    statement: dict[str, Any], accepted: set[str], external_id: str | None
) -> Trust | None:
    named = [p for p in _trust_principals(statement) if p in accepted]
    if not named or not _action_matches(statement, ASSUME_ROLE):
        return None
    trust = Trust(trusted=True, principal=named[0])
    for operator, key, values in _conditions(statement):
        if key == "sts:externalid" and operator.startswith("StringEquals"):
            trust.external_id_required = True
            trust.external_id_matches = external_id is not None and external_id in values
        elif key == "sts:externalid" and operator.startswith("StringLike"):
            trust.external_id_required = True
            trust.external_id_matches = external_id is not None and any(
                iam_match(v, external_id) for v in values
            )
        else:
            trust.other_conditions.append(key)
    return trust


def read_trust(
    document: dict[str, Any], role_arn: str, account: str, external_id: str | None
) -> Trust:
    """The best statement of the trust policy for `role_arn` (of account `account`)."""
    accepted = {role_arn, f"arn:aws:iam::{account}:root", account, "*"}
    best = Trust()
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict):
            continue
        trust = _statement_trust(statement, accepted, external_id)
        if trust is None:
            continue
        if statement.get("Effect") == "Deny":
            if not trust.other_conditions and not trust.external_id_required:
                return Trust(denied=True, principal=trust.principal)
            continue
        if statement.get("Effect") != "Allow":
            continue
        rank = _rank(trust)
        if rank > _rank(best):
            best = trust
    return best


def _rank(trust: Trust) -> int:
    if not trust.trusted:
        return 0
    if trust.external_id_required and not trust.external_id_matches:
        return 1
    return 2 + (not trust.other_conditions) + (trust.principal != "*")


def trust_verdict(trust: Trust, role_arn: str, source_role: str, env_name: str) -> Verdict:
    if trust.denied:
        return Verdict("fail", f"the trust policy of {source_role} denies {role_arn}")
    if not trust.trusted:
        return Verdict(
            "fail",
            f"the trust policy of {source_role} does not let the Lambda's role {role_arn} "
            "(or its account) assume it",
        )
    if trust.external_id_required and not trust.external_id_matches:
        return Verdict(
            "fail",
            f"the trust policy of {source_role} requires an external ID that the Lambda's "
            f"{env_name} does not match (neither is shown)",
        )
    if trust.other_conditions:
        return Verdict(
            "warn",
            f"the trust policy of {source_role} has conditions not evaluated here: "
            f"{', '.join(sorted(set(trust.other_conditions)))}",
        )
    if trust.principal == "*":
        return Verdict("warn", f"the trust policy of {source_role} trusts any AWS principal")
    if not trust.external_id_required:
        return Verdict(
            "warn",
            f"the trust policy of {source_role} does not require an external ID "
            "(sts:ExternalId): the playbook's role requires the one the Lambda sends",
        )
    return Verdict("ok")


# --- MFA ----------------------------------------------------------------------------


def mfa_verdicts(
    challenge: str, target: dict[str, Any], source_mode: str | None
) -> dict[str, Verdict]:
    """The runbook's `mfa_challenge` against the pools' MFA configuration.

    `refuse`: a user the source asks for MFA is not moved by the trigger (left to
    force-migration), so the trigger moves only users with no MFA factor.
    `accept_password`: moved on the password alone; an SMS-MFA user comes with
    `enableSMSMFA`, which Cognito documents as needing MFA enabled in the pool.
    """
    mode = str(target.get("MfaConfiguration") or "OFF")
    sms = bool((target.get("SmsMfaConfiguration") or {}).get("SmsConfiguration"))
    found: dict[str, Verdict] = {}
    if challenge == "refuse" and source_mode == "ON":
        found["mfa_refuses_everyone"] = Verdict(
            "fail",
            "the source pool requires MFA of every user and the runbook's mfa_challenge is "
            "'refuse': the trigger would refuse every sign-in, nobody moves lazily",
        )
    if challenge == "refuse" and mode == "ON":
        found["mfa_required_in_target"] = Verdict(
            "warn",
            "the target pool requires MFA (ON) but the trigger (mfa_challenge 'refuse') "
            "moves only users without an MFA factor: each must set one up at the first "
            "sign-in after moving, and the app must handle the MFA_SETUP challenge",
        )
    # With no MFA in the source there is no factor to lose: nothing to judge here.
    source_has_mfa = source_mode in ("ON", "OPTIONAL")
    if challenge == "accept_password" and source_has_mfa and mode == "OFF":
        found["mfa_off_in_target"] = Verdict(
            "warn",
            "mfa_challenge is 'accept_password' but the target pool's MFA is OFF: users with "
            "MFA in the source move on their password alone and lose their factor (the "
            "trigger lists them in custom:mfa_reenrol and its log) with no way to set one up "
            "again until the target enables MFA",
        )
    elif challenge == "accept_password" and source_has_mfa and not sms:
        found["mfa_no_sms_in_target"] = Verdict(
            "warn",
            "mfa_challenge is 'accept_password' and the target pool has no SMS MFA "
            "configuration: SMS-MFA users move without it and are listed for re-enrolment",
        )
    return found


def mapping_verdicts(
    case_insensitive_emails: bool, default_country_code: str | None, variables: dict[str, str]
) -> dict[str, Verdict]:
    """The Lambda maps attributes as force-migration will (the runbook's [cognito]).

    Two paths create users: the trigger at sign-in and force-migration at the end.
    If they lower-case emails or complete phone numbers differently, the same
    person can arrive twice, or not be found by the other path.
    """
    found: dict[str, Verdict] = {}
    lambda_ci = variables.get("CASE_INSENSITIVE_EMAILS", "true").strip().lower() != "false"
    if lambda_ci != case_insensitive_emails:
        found["email_case_mismatch"] = Verdict(
            "fail",
            f"the Lambda's CASE_INSENSITIVE_EMAILS is {str(lambda_ci).lower()} but the "
            f"runbook's cognito.case_insensitive_emails is {str(case_insensitive_emails).lower()}",
        )
    lambda_cc = (variables.get("DEFAULT_COUNTRY_CODE") or "").lstrip("+") or None
    wanted_cc = (default_country_code or "").lstrip("+") or None
    if lambda_cc != wanted_cc:
        found["country_code_mismatch"] = Verdict(
            "fail",
            f"the Lambda's DEFAULT_COUNTRY_CODE is {lambda_cc or 'unset'} but the runbook's "
            f"cognito.default_country_code is {wanted_cc or 'unset'}: phone numbers would be "
            "completed differently by the trigger and by force-migration",
        )
    return found
