"""The session factory: the only place a boto3 session or client is created.

Sessions follow the SDK's conventions (profiles, SSO, AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL); an account with `role_arn` is reached by assuming that
role (with its external ID) through auto-refreshing credentials, so a long
cutover never runs on expired keys. Every source session carries the
read-only guard.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from runbook.aws.guard import read_only_guard, read_only_sign_guard
from runbook.aws.redact import register_secret

if TYPE_CHECKING:  # neither is imported on `runbook rollback`'s path (see `core_client`)
    import boto3
    import botocore.loaders
    import botocore.session
    from botocore.config import Config

    from runbook.model import Account, Accounts


class AccountLike(Protocol):
    """How to reach an account: `runbook.model.Account`, or the rollback's lean read of one."""

    @property
    def account_id(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def profile(self) -> str | None: ...
    @property
    def role_arn(self) -> str | None: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def session_name(self) -> str: ...


MAX_CONCURRENT_CALLS = 32  # a gate's checks on one client, and then some


@functools.cache
def default_config() -> Config:
    """The clients' defaults; botocore (its config pulls in its HTTP stack) loads here,
    with the first client, not with this module: the app paints first (issue 16)."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=20,
        user_agent_extra="runbook/0.1",
        # One cached client per account and service serves a whole gate at once: a pool
        # smaller than the checks using it would open and discard a connection each call.
        max_pool_connections=MAX_CONCURRENT_CALLS,
    )


@functools.cache
def sts_config() -> Config:
    # For assuming roles: a credential refresh is on the path of every call, the
    # rollback's included, so it may not wait minutes on a hung STS endpoint.
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": 2},
        connect_timeout=3,
        read_timeout=5,
    )


class CredentialsError(RuntimeError):
    """No usable credentials for an account; the message says which and how to fix it."""

    def __init__(self, cause: str, account: str | None = None) -> None:
        super().__init__(f"{account}: {cause}" if account else cause)
        self.cause = cause
        self.account = account  # e.g. "source account 111111111111"

    def for_account(self, account: str) -> CredentialsError:
        return self if self.account else CredentialsError(self.cause, account)


def account_label(name: str, account: AccountLike) -> str:
    """How every message names an account: its role in the run and its ID."""
    return f"{name} account {account.account_id}"


_loader_lock = threading.Lock()
_loader: botocore.loaders.Loader | None = None


def _shared_loader() -> botocore.loaders.Loader:
    """One data loader for every session: each would otherwise re-parse the service models."""
    global _loader
    with _loader_lock:
        if _loader is None:
            import botocore.loaders

            _loader = botocore.loaders.create_loader()
        return _loader


def _botocore_session(account: AccountLike) -> botocore.session.Session:
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    try:
        core = botocore.session.Session(profile=account.profile)
        core.register_component("data_loader", _shared_loader())
        if account.profile is not None:
            core.get_scoped_config()  # raises now, naming the profile, if it is missing
    except ProfileNotFound as exc:
        raise CredentialsError(
            f"profile {account.profile!r} not found: {exc}; add it to your AWS config "
            "(`aws configure sso`) or fix the account's `profile` in the runbook"
        ) from None
    core.set_config_variable("region", account.region)
    return core


def _assuming(
    fetch: Callable[[], dict[str, Any]], role_arn: str, label: str | None
) -> Callable[[], dict[str, Any]]:
    """A refresh that fails as one CredentialsError naming the account, the role and why."""

    def refresh() -> dict[str, Any]:
        try:
            return fetch()
        except Exception as exc:
            raise CredentialsError(f"cannot assume role {role_arn}: {exc}", label) from exc

    return refresh


def build_core_session(
    account: AccountLike, *, read_only: bool, label: str | None = None
) -> botocore.session.Session:
    """One account's botocore session. `read_only=True` installs the source guard; `label`
    names the account in credential errors (see `account_label`)."""
    try:
        core = _botocore_session(account)
    except CredentialsError as exc:
        raise exc.for_account(label) if label else exc from None
    if account.role_arn is not None:
        extra: dict[str, Any] = {"RoleSessionName": account.session_name}
        if account.external_id is not None:
            extra["ExternalId"] = account.external_id
        # The role is assumed with the operator's own credentials, through a
        # separate, unguarded session: AssumeRole changes nothing in the account.
        base = _botocore_session(account)
        source = base.get_credentials()
        if source is None:
            raise CredentialsError(
                f"no credentials to assume {account.role_arn} with: set AWS_PROFILE, "
                "run `aws sso login`, or export credentials",
                label,
            )
        from botocore.credentials import (
            AssumeRoleCredentialFetcher,
            DeferredRefreshableCredentials,
        )

        fetcher = AssumeRoleCredentialFetcher(
            # Bounded, so a hung STS endpoint cannot outlast a rollback's deadline.
            client_creator=functools.partial(base.create_client, config=sts_config()),
            source_credentials=source,
            role_arn=account.role_arn,
            extra_args=extra,
        )
        # botocore has no public setter for refreshable credentials.
        core._credentials = DeferredRefreshableCredentials(
            method="assume-role",
            refresh_using=_assuming(fetcher.fetch_credentials, account.role_arn, label),
        )
    if read_only:
        core.register("before-parameter-build", read_only_guard, unique_id="runbook-read-only")
        core.register("before-sign", read_only_sign_guard, unique_id="runbook-read-only-sign")
    return core


def build_session(account: Account, *, read_only: bool, label: str | None = None) -> boto3.Session:
    """One account's boto3 session, on `build_core_session`."""
    import boto3  # only where a boto3 session is wanted: `runbook rollback` never needs one

    core = build_core_session(account, read_only=read_only, label=label)
    return boto3.Session(botocore_session=core, region_name=account.region)


def core_client(
    account: AccountLike,
    service: str,
    *,
    read_only: bool,
    config: Config | None = None,
    label: str | None = None,
) -> Any:
    """A client straight from botocore, without boto3: `runbook rollback`'s lean path.

    The same account, credentials, guard and defaults as the factory's clients
    (a boto3 client is this, made through boto3's session).
    """
    core = build_core_session(account, read_only=read_only, label=label)
    merged = default_config().merge(config) if config is not None else default_config()
    client = core.create_client(service, region_name=account.region, config=merged)
    SessionFactory._register_credentials(core)
    return client


def ambient_client(service: str, *, config: Config | None = None) -> Any:
    """A client on the SDK's own credentials and region, for commands without a runbook
    (`runbook audit verify s3://...`, which only reads: List, Get and Head calls)."""
    import botocore.session

    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader())
    merged = default_config().merge(config) if config is not None else default_config()
    import boto3

    return boto3.Session(botocore_session=core).client(service, config=merged)


class SessionFactory:
    """Sessions and cached clients per configured account (`source`, `target`, `dns`)."""

    def __init__(
        self, accounts: Accounts | Mapping[str, Account], *, config: Config | None = None
    ) -> None:
        if not isinstance(accounts, Mapping):  # the model's Accounts
            accounts = {
                name: account
                for name in ("source", "target", "dns", "audit")
                if (account := getattr(accounts, name)) is not None
            }
        self._accounts: dict[str, Account] = dict(accounts)
        self._extra_config = config  # merged onto the defaults with the first client
        self._sessions: dict[str, boto3.Session] = {}
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        # boto3 sessions are not thread-safe; clients are. Build under a lock.
        self._lock = threading.Lock()
        # Why an account could not be asked who we are, by account (the app's notice).
        self._problems: dict[str, str] = {}

    def account(self, name: str) -> Account:
        account = self._accounts.get(name)
        if account is None:
            raise KeyError(f"no [accounts.{name}] in the runbook")
        return account

    def session(self, name: str) -> boto3.Session:
        with self._lock:
            return self._session(name)

    def _session(self, name: str) -> boto3.Session:
        if name not in self._sessions:
            account = self.account(name)
            self._sessions[name] = build_session(
                account, read_only=name == "source", label=account_label(name, account)
            )
        return self._sessions[name]

    def client(
        self,
        name: str,
        service: str,
        *,
        config: Config | None = None,
        endpoint_url: str | None = None,
    ) -> Any:
        """A cached client; with `config`, a new client that no other caller shares.

        Typed `Any` on purpose: the service is a runtime string, and typing it with
        boto3-stubs would take a Literal overload per service and retype every
        check's response handling against the stubs' TypedDicts; the checks are
        instead tested against botocore's service model (moto, or Stubber, which
        validates every response shape).

        `endpoint_url` pins the endpoint for clients that outlive the environment
        that named it (the demo's own emulator clients); it is part of the cache key.
        """
        key = (name, service, endpoint_url)
        with self._lock:
            if config is None and key in self._clients:
                return self._clients[key]
            session = self._session(name)
            base = default_config()
            if self._extra_config is not None:
                base = base.merge(self._extra_config)
            merged = base.merge(config) if config is not None else base
            client = session.client(service, config=merged, endpoint_url=endpoint_url)
            self._register_credentials(session)
            if config is None:
                self._clients[key] = client
            return client

    @staticmethod
    def _register_credentials(session: boto3.Session) -> None:
        from botocore.credentials import DeferredRefreshableCredentials
        from botocore.exceptions import NoCredentialsError

        try:
            creds = session.get_credentials()
            if creds is not None and not isinstance(creds, DeferredRefreshableCredentials):
                frozen = creds.get_frozen_credentials()
                register_secret(frozen.secret_key)
                register_secret(frozen.token)
        except NoCredentialsError:
            pass

    def identity(self, name: str) -> dict[str, Any]:
        """`sts:GetCallerIdentity` for an account, with a clear error if no credentials."""
        from botocore.exceptions import NoCredentialsError

        label = account_label(name, self.account(name))
        try:
            response: dict[str, Any] = self.client(name, "sts").get_caller_identity()
        except NoCredentialsError:
            problem = CredentialsError(
                "no AWS credentials: set AWS_PROFILE, run `aws sso login`, "
                "or set a profile/role_arn in the runbook",
                label,
            )
        except CredentialsError as exc:
            problem = exc.for_account(label)
        except Exception as exc:
            with self._lock:
                self._problems[name] = f"{label}: cannot ask who we are: {exc}"
            raise
        else:
            with self._lock:
                self._problems.pop(name, None)
            return response
        with self._lock:
            self._problems[name] = str(problem)
        raise problem from None

    def access_problems(self) -> dict[str, str]:
        """Accounts whose last identity check failed, and why (profile, role, endpoint)."""
        with self._lock:
            return dict(self._problems)
