"""Signed, expiring access tokens for the console: no login system, a link carries its grant.

A token is `<payload>.<mac>`, both base64url without padding. The payload is compact JSON:
scope (`job`: that one job; `tenant`: that tenant's job list and policy playground), tenant,
job id (job scope only) and expiry (Unix seconds). The mac is HMAC-SHA256 of the encoded
payload under the console secret, checked with `hmac.compare_digest` before anything in the
payload is believed. Everything that fails, for any reason, is `AccessDenied`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr

from bot.console.errors import AccessDenied

Scope = Literal["job", "tenant"]
MIN_SECRET_BYTES = 32  # HMAC-SHA256's own block of entropy; shorter is guessable offline
MAX_TOKEN_CHARS = 2048  # a token is ~150 characters; anything longer is not ours


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified token allows."""

    scope: Scope
    tenant: str | None
    job_id: str | None
    expires: int

    def opens_job(self, job_id: str, tenant: str | None) -> bool:
        """A job token opens its job; a tenant token opens every job of its tenant."""
        if self.scope == "job":
            return self.job_id == job_id and self.tenant == tenant
        return self.tenant is not None and self.tenant == tenant

    def opens_tenant(self, tenant: str) -> bool:
        return self.scope == "tenant" and self.tenant == tenant


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Signs and verifies console tokens with one secret (`Settings.console_secret`)."""

    def __init__(self, secret: SecretStr, *, clock: Callable[[], float] = time.time) -> None:
        key = secret.get_secret_value().encode()
        if len(key) < MIN_SECRET_BYTES:
            raise ValueError(
                f"the console secret must be at least {MIN_SECRET_BYTES} bytes; generate one "
                "with `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        self._key = key
        self._clock = clock

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def sign(self, grant: Grant) -> str:
        body = {"s": grant.scope, "t": grant.tenant, "j": grant.job_id, "e": grant.expires}
        payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{self._mac(payload)}"

    def job_token(self, job_id: str, tenant: str | None, ttl_seconds: float) -> str:
        return self.sign(Grant("job", tenant, job_id, int(self._clock() + ttl_seconds)))

    def tenant_token(self, tenant: str, ttl_seconds: float) -> str:
        return self.sign(Grant("tenant", tenant, None, int(self._clock() + ttl_seconds)))

    def verify(self, token: str | None) -> Grant:
        """The grant a token carries; `AccessDenied` (why, never the token) otherwise."""
        if not token:
            raise AccessDenied("no token")
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise AccessDenied("malformed token")
        payload, mac = token.split(".")
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac_bytes(payload)):
            raise AccessDenied("bad signature (tampered, or signed with another secret)")
        try:
            body = json.loads(_unb64(payload))
            grant = Grant(
                scope=body["s"],
                tenant=body["t"],
                job_id=body["j"],
                expires=int(body["e"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise AccessDenied(f"unreadable payload ({type(exc).__name__})") from None
        if grant.scope not in ("job", "tenant"):
            raise AccessDenied("unknown scope")
        if grant.expires <= self._clock():
            raise AccessDenied(f"expired at {grant.expires}")
        return grant

    def _mac_bytes(self, payload: str) -> bytes:
        try:
            return self._mac(payload).encode("ascii")
        except UnicodeEncodeError:
            return b""  # not ASCII: cannot be ours; compare against nothing
