"""Vault through hvac: per-tenant KV v2 reads, token/AppRole/Kubernetes auth, token TTL tracked
and renewed before expiry, one fresh login on 403/expired token. Values come back as `Secret`s
and are registered with the scrubber before anything else sees them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import hvac
import hvac.exceptions as hx
import requests
from pydantic import SecretStr

from core.retry import RetryPolicy, parse_retry_after
from core.scrubber import Scrubber
from core.secret import Secret
from integrations.breaker import CircuitBreaker
from integrations.errors import (
    AccessDenied,
    AuthError,
    AuthExpired,
    BadRequest,
    IntegrationError,
    NotConfigured,
    NotFound,
    Unavailable,
    ask,
)
from integrations.guard import Guard
from integrations.health import Health, timed
from integrations.outcome import Outcome
from integrations.refresh import RefreshObserver, notify
from policy.judge import Judge, VaultRead

T = TypeVar("T")


@dataclass(frozen=True)
class VaultConfig:
    """Where Vault is and how this process logs in (built from Settings by `bot.wiring`)."""

    addr: str | None = None
    auth: str = "token"  # token | approle | kubernetes
    token: SecretStr | None = None
    role_id: str | None = None
    secret_id: SecretStr | None = None
    kubernetes_role: str | None = None
    kubernetes_jwt_path: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    timeout_seconds: float = 5.0


RENEW_MARGIN = 1 / 3  # renew once less than a third of the lease is left


def _rate_limit_hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    # hvac's exceptions drop the headers, so Retry-After is read here, before hvac raises
    if response.status_code == 429:
        response.close()  # raising here skips requests' own release of the connection
        raise Unavailable(
            "Vault is rate limiting (429)",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )


class VaultClient:
    def __init__(
        self,
        config: VaultConfig,
        judge: Judge,
        scrubber: Scrubber,
        *,
        breaker: CircuitBreaker | None = None,
        retry: RetryPolicy | None = None,
        metrics: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_refresh: RefreshObserver | None = None,
    ) -> None:
        self.config = config
        self._judge = judge
        self._on_refresh = on_refresh
        self.scrubber = scrubber
        self.guard = Guard(
            "vault", scrubber, breaker=breaker, retry=retry, metrics=metrics, sleep=sleep
        )
        self._clock = clock
        self._lock = threading.RLock()
        self._client: hvac.Client | None = None
        self._expires_at: float | None = None  # None: no known expiry
        self._lease: float = 0.0
        self._renewable = False
        self._logged_in = False
        if config.token is not None:
            scrubber.register("vault-token", config.token.get_secret_value())
        if config.secret_id is not None:
            scrubber.register("vault-secret-id", config.secret_id.get_secret_value())

    # --- public API -----------------------------------------------------------------------
    def read(self, tenant: str, path: str) -> Outcome[dict[str, Secret]]:
        """The key/value pairs at a KV v2 `path` ("<mount>/<path>", e.g. secret/tenants/acme/db)."""

        def run() -> dict[str, Secret]:
            ask(self._judge, VaultRead(path), tenant)
            return self._read(path)

        return self.guard.call(f"reading {path}", run)

    def read_configured(self, path: str) -> Outcome[dict[str, Secret]]:
        """A path the operator named in Settings (e.g. a platform API's token). Not for the
        agent: tenant policy does not apply because no tenant chose the path."""
        return self.guard.call(f"reading configured secret {path}", lambda: self._read(path))

    def check_credentials(self, tenant: str) -> Outcome[dict[str, Any]]:
        """Which of the tenant's secret paths resolve: names of paths and keys, never values."""

        def run() -> dict[str, Any]:
            policy = self._judge.current()
            if tenant not in policy.tenants:  # the judge says why
                ask(self._judge, VaultRead(f"secret/{tenant}"), tenant)
            report: dict[str, Any] = {}
            for template in policy.vault_templates(tenant):
                for path in self._expand(template):
                    try:
                        ask(self._judge, VaultRead(path), tenant)
                        keys = sorted(self._read(path))
                        report[path] = {"status": "ok", "keys": keys}
                    except NotFound:
                        report[path] = {"status": "missing", "keys": []}
                    except (AuthError, AccessDenied) as exc:
                        report[path] = {"status": "denied", "detail": str(exc)}
            return {"tenant": tenant, "paths": report}

        return self.guard.call(f"checking {tenant}'s Vault credentials", run)

    def health(self) -> Health:
        if not self.config.addr:
            return Health("vault", False, None, "none", "not configured (set VAULT_ADDR)")

        def probe() -> tuple[bool, str, str]:
            status = self._call(lambda c: c.sys.read_health_status(method="GET"), auth=False)
            if isinstance(status, requests.Response):
                # 200 active, 429/472/473 standbys; 501 uninitialised, 503 sealed, 5xx broken
                if status.status_code not in (200, 429, 472, 473):
                    return False, "unknown", f"sys/health answered HTTP {status.status_code}"
                body = status.json() if status.content else {}
            else:
                body = status
            if isinstance(body, dict) and (body.get("sealed") or not body.get("initialized", True)):
                return False, "unknown", "Vault is sealed or not initialised"
            auth, ok = self._auth_state()
            return ok, auth, "ok" if ok else "reachable, but authentication failed"

        return timed("vault", probe, self.scrubber)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.adapter.close()
                self._client = None
                self._logged_in = False

    # --- internals ------------------------------------------------------------------------
    def _hvac(self) -> hvac.Client:
        with self._lock:
            if self._client is None:
                if not self.config.addr:
                    raise NotConfigured("Vault is not configured: set VAULT_ADDR")
                session = requests.Session()
                session.hooks["response"].append(_rate_limit_hook)
                timeout = self.config.timeout_seconds
                # token="" stops hvac from reading VAULT_TOKEN/~/.vault-token on its own
                self._client = hvac.Client(
                    url=self.config.addr, token="", timeout=timeout, session=session
                )
            return self._client

    def _login(self) -> None:
        """Get a fresh token with the configured auth method."""
        try:
            self._login_once()
        except AuthExpired as exc:
            raise AuthError(
                f"Vault refused the {self.config.auth} login (permission denied); check "
                "the token, the AppRole ids or the service-account token and its Vault role"
            ) from exc

    def _login_once(self) -> None:
        client = self._hvac()
        method = self.config.auth
        s = self.config
        if method == "token":
            if s.token is None:
                raise NotConfigured("Vault auth is 'token' but VAULT_TOKEN is not set")
            client.token = s.token.get_secret_value()
            data = self._translate(lambda: client.auth.token.lookup_self())["data"]
            self._set_lease(float(data.get("ttl") or 0), bool(data.get("renewable")))
        elif method == "approle":
            if not s.role_id or s.secret_id is None:
                raise NotConfigured("Vault auth is 'approle': set VAULT_ROLE_ID and SECRET_ID")
            secret_id = s.secret_id.get_secret_value()
            auth = self._translate(
                lambda: client.auth.approle.login(role_id=s.role_id, secret_id=secret_id)
            )["auth"]
            self._accept(auth)
        elif method == "kubernetes":
            if not s.kubernetes_role:
                raise NotConfigured("Vault auth is 'kubernetes': set VAULT_KUBERNETES_ROLE")
            try:
                jwt = s.kubernetes_jwt_path.read_text().strip()
            except OSError as exc:
                raise NotConfigured(
                    f"cannot read the service-account token {s.kubernetes_jwt_path}: "
                    f"{exc.strerror}"
                ) from exc
            self.scrubber.register("kubernetes-sa-token", jwt)
            auth = self._translate(
                lambda: client.auth.kubernetes.login(role=s.kubernetes_role, jwt=jwt)
            )["auth"]
            self._accept(auth)
        else:
            raise NotConfigured(f"unknown vault_auth {method!r}: use token, approle or kubernetes")
        self._logged_in = True

    def _accept(self, auth: dict[str, Any]) -> None:
        token = str(auth["client_token"])
        self.scrubber.register("vault-token", token)
        self._hvac().token = token
        self._set_lease(float(auth.get("lease_duration") or 0), bool(auth.get("renewable")))

    def _set_lease(self, ttl: float, renewable: bool) -> None:
        self._lease = ttl
        self._renewable = renewable
        self._expires_at = self._clock() + ttl if ttl > 0 else None

    def _ensure_token(self) -> None:
        with self._lock:
            if not self._logged_in:
                self._login()
                return
            if self._expires_at is None:
                return
            left = self._expires_at - self._clock()
            if left > self._lease * RENEW_MARGIN:
                return
            if self._renewable and left > 0:
                client = self._hvac()
                try:
                    auth = self._translate(lambda: client.auth.token.renew_self())["auth"]
                    self._set_lease(float(auth.get("lease_duration") or 0), True)
                    notify(self._on_refresh, "vault", "token renewed before expiry")
                    return
                except (AuthError, BadRequest):
                    pass  # could not renew: a fresh login below
            self._login()
            notify(
                self._on_refresh, "vault", f"re-login ({self.config.auth}): token expiring"
            )

    def _call(self, fn: Callable[[hvac.Client], T], *, auth: bool = True) -> T:
        """One Vault call; on a rejected token, log in again once and retry."""
        if auth:
            self._ensure_token()
        client = self._hvac()
        try:
            return self._translate(lambda: fn(client))
        except AuthExpired:
            if not auth:
                raise
        with self._lock:
            self._logged_in = False
            self._login()
        notify(self._on_refresh, "vault", f"re-login ({self.config.auth}): token rejected")
        try:
            return self._translate(lambda: fn(client))
        except AuthExpired as exc:
            raise AuthError(
                f"Vault refused the request even after a fresh login ({exc}); check that the "
                "Vault policy bound to this role grants read on the path"
            ) from exc

    def _translate(self, fn: Callable[[], T]) -> T:
        """hvac/requests errors become ours, here and nowhere else."""
        addr = self.config.addr
        timeout = self.config.timeout_seconds
        try:
            return fn()
        except IntegrationError:
            raise
        except (hx.Forbidden, hx.Unauthorized) as exc:
            raise AuthExpired("Vault rejected the token (permission denied)") from exc
        except hx.InvalidPath as exc:
            raise NotFound("no secret at that path") from exc
        except (hx.InternalServerError, hx.VaultDown, hx.BadGateway) as exc:
            raise Unavailable(f"Vault answered {type(exc).__name__} ({exc})") from exc
        except hx.RateLimitExceeded as exc:
            raise Unavailable("Vault is rate limiting (429)") from exc
        except (hx.InvalidRequest, hx.ParamValidationError) as exc:
            raise BadRequest(f"Vault rejected the request: {exc}") from exc
        except hx.VaultError as exc:
            raise Unavailable(f"Vault answered unexpectedly: {exc}") from exc
        except requests.Timeout as exc:
            raise Unavailable(f"Vault at {addr} did not answer within {timeout:g}s") from exc
        except requests.ConnectionError as exc:
            raise Unavailable(
                f"cannot connect to Vault at {addr} (connection refused or reset)"
            ) from exc
        except requests.RequestException as exc:
            raise Unavailable(f"request to Vault failed: {type(exc).__name__}") from exc

    def _split(self, path: str) -> tuple[str, str]:
        mount, _, rest = path.strip("/").partition("/")
        if not rest:
            raise BadRequest(f"vault path {path!r} needs a mount and a path, e.g. secret/app/db")
        return mount, rest

    def _read(self, path: str) -> dict[str, Secret]:
        mount, rest = self._split(path)
        response = self._call(
            lambda c: c.secrets.kv.v2.read_secret_version(
                path=rest, mount_point=mount, raise_on_deleted_version=True
            )
        )
        data = (response.get("data") or {}).get("data") or {}
        values: dict[str, Secret] = {}
        for key, value in data.items():
            name = f"{path.strip('/')}#{key}"
            text = value if isinstance(value, str) else str(value)
            self.scrubber.register(name, text)  # before the value can go anywhere else
            values[str(key)] = Secret(name, text)
        return values

    def _expand(self, template: str) -> list[str]:
        """A concrete path as is; a template ending in '/*' lists that folder (one level)."""
        if "*" not in template:
            return [template]
        base = template.split("*", 1)[0].rstrip("/")
        mount, rest = self._split(base)
        try:
            listing = self._call(
                lambda c: c.secrets.kv.v2.list_secrets(path=rest, mount_point=mount)
            )
        except NotFound:
            return []
        keys = (listing.get("data") or {}).get("keys") or []
        return [f"{base}/{k}" for k in keys if not str(k).endswith("/")]

    def _auth_state(self) -> tuple[str, bool]:
        try:
            data = self._call(lambda c: c.auth.token.lookup_self())["data"]
        except IntegrationError as exc:
            return f"{self.config.auth}: not authenticated ({exc})", False
        ttl = data.get("ttl")
        left = "no expiry" if not ttl else f"token TTL {int(ttl)}s left"
        return f"{self.config.auth}: {left}", True
