"""The `integrations` package's exceptions. Inside the agent they never leave the package:
`Guard.call` translates each into a `Degraded` whose reason says what happened and what to do.
Elsewhere (the CLI building the integrations) they are `SteadfastError`s like any other.

    SteadfastError            (core.errors)
    └── IntegrationError      root here; `retryable` says whether trying again later can help
        ├── NotConfigured         the dependency has no address/credentials in Settings
        ├── AccessDenied          the policy does not allow this tenant/path/namespace/host
        ├── NotFound              the dependency answered: no such object (not a failure of it)
        ├── BadRequest            the request itself is wrong (bad selector, bad URL)
        ├── AuthError             credentials rejected even after one fresh login
        │   └── AuthExpired       credentials expired; the caller logs in again once and retries
        └── Unavailable           timeout, connection refused/reset, 5xx, 429 (retried with backoff)
"""

from __future__ import annotations

from core.errors import SteadfastError
from policy.judge import Decision, Judge, Request


class IntegrationError(SteadfastError):
    retryable = False
    # whether this error says the dependency itself is unwell (counts towards the breaker)
    dependency_failure = False


class NotConfigured(IntegrationError):
    pass


class AccessDenied(IntegrationError):
    """`decision` is the judge's denial when the policy refused (the cluster's RBAC or a
    selector aimed at another tenant refuse without one)."""

    def __init__(self, message: str, *, decision: Decision | None = None) -> None:
        super().__init__(message)
        self.decision = decision


def ask(judge: Judge, request: Request, tenant: str | None) -> None:
    """Put `request` to the judge; a denial becomes this package's `AccessDenied`."""
    decision = judge.judge(request, tenant)
    if not decision.allowed:
        raise AccessDenied(f"{decision.reason} {decision.hint}".strip(), decision=decision)


class NotFound(IntegrationError):
    pass


class BadRequest(IntegrationError):
    pass


class AuthError(IntegrationError):
    dependency_failure = True


class AuthExpired(AuthError):
    retryable = True


class Unavailable(IntegrationError):
    retryable = True
    dependency_failure = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
