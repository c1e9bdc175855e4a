"""Platform HTTP APIs through httpx: GET/HEAD only, the policy's host allowlist enforced again
here, no redirects followed (a redirect could leave the allowlist), a response size cap, JSON or
text. Named APIs carry their auth header; ad-hoc URLs never get credentials."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from core.retry import RetryPolicy, parse_retry_after
from core.scrubber import Scrubber
from integrations.breaker import CircuitBreaker
from integrations.errors import (
    AuthError,
    BadRequest,
    IntegrationError,
    NotConfigured,
    Unavailable,
    ask,
)
from integrations.guard import Guard
from integrations.health import Health, timed
from integrations.outcome import Degraded, Ok, Outcome
from integrations.vault import VaultClient
from policy.judge import HttpRequest, Judge


@dataclass(frozen=True)
class ApiConfig:
    base_url: str
    token: SecretStr | None = None  # resolved at the entry point (e.g. from an env variable)
    token_vault_path: str | None = None  # "secret/platform/api#token", read when first needed
    auth_header: str = "Authorization"
    auth_scheme: str | None = "Bearer"
    timeout_seconds: float | None = None
    health_path: str = "/healthz"


@dataclass(frozen=True)
class HttpResult:
    url: str
    status: int
    content_type: str
    json: Any | None = None
    text: str | None = None
    truncated: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status": self.status,
            "content_type": self.content_type,
            "json": self.json,
            "text": self.text,
            "truncated": self.truncated,
            "headers": self.headers,
        }


_KEEP_HEADERS = ("content-type", "content-length", "location", "retry-after", "date", "etag")


@dataclass(frozen=True)
class HttpConfig:
    """The HTTP client's own settings (built from Settings by `bot.wiring`)."""

    timeout_seconds: float = 10.0


class HttpClient:
    def __init__(
        self,
        config: HttpConfig,
        judge: Judge,
        scrubber: Scrubber,
        apis: dict[str, ApiConfig] | None = None,
        *,
        vault: VaultClient | None = None,
        retry: RetryPolicy | None = None,
        breaker_factory: Callable[[str], CircuitBreaker] | None = None,
        metrics: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._judge = judge
        self.scrubber = scrubber
        self.apis = apis if apis is not None else {}
        self.vault = vault
        self._retry = retry
        self._breaker_factory = breaker_factory or (lambda name: CircuitBreaker(name))
        self._metrics = metrics
        self._sleep = sleep
        self._guards: dict[str, Guard] = {}
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._http = httpx.Client(follow_redirects=False, trust_env=False)
        for api in self.apis.values():
            if api.token is not None:
                scrubber.register("platform-api-token", api.token.get_secret_value())

    def close(self) -> None:
        self._http.close()

    def guard(self, dependency: str) -> Guard:
        with self._lock:
            if dependency not in self._guards:
                self._guards[dependency] = Guard(
                    dependency,
                    self.scrubber,
                    breaker=self._breaker_factory(dependency),
                    retry=self._retry,
                    metrics=self._metrics,
                    sleep=self._sleep,
                )
            return self._guards[dependency]

    # --- public API -----------------------------------------------------------------------
    def get(
        self, url_or_name_path: str, tenant: str | None, method: str = "GET"
    ) -> Outcome[HttpResult]:
        """`url_or_name_path`: "platform:/v1/instances/i-123", "platform/v1/...", or a full URL."""
        try:
            name, url, api = self._resolve(url_or_name_path)
        except IntegrationError as exc:
            return Degraded("http", self.scrubber.scrub(str(exc)), retryable=False)
        dependency = f"http:{name or urlsplit(url).hostname}"

        def run() -> HttpResult:
            ask(self._judge, HttpRequest(method, url, configured=api is not None), tenant)
            return self._fetch(method.upper(), url, name, api)

        return self.guard(dependency).call(f"{method.upper()} {url}", run)

    def health(self) -> list[Health]:
        results = []
        for name, api in self.apis.items():
            url = api.base_url.rstrip("/") + api.health_path

            def probe(
                name: str = name, api: ApiConfig = api, url: str = url
            ) -> tuple[bool, str, str]:
                # 5xx, 429, 401/403 and transport errors raise (unhealthy); any other answer
                # proves the API is reachable and accepts our credentials
                result = self._fetch("GET", url, name, api)
                auth = "bearer token" if self._has_auth(api) else "none"
                detail = "ok" if result.status < 300 else f"reachable (HTTP {result.status})"
                return True, auth, detail

            results.append(timed(f"http:{name}", probe, self.scrubber))
        return results

    # --- internals ------------------------------------------------------------------------
    def _resolve(self, target: str) -> tuple[str | None, str, ApiConfig | None]:
        if "://" in target:
            return None, target, None
        name, sep, path = target.partition(":")
        if not sep or name not in self.apis:
            name, _, path = target.partition("/")
        api = self.apis.get(name)
        if api is None:
            known = ", ".join(sorted(self.apis)) or "none configured"
            raise BadRequest(f"unknown API {name!r} in {target!r}; configured APIs: {known}")
        if any(seg in ("..", ".") for seg in path.split("?", 1)[0].split("/")) or "://" in path:
            raise BadRequest(f"{target!r}: the path must stay under API {name!r}'s base URL")
        return name, api.base_url.rstrip("/") + "/" + path.lstrip("/"), api

    def _has_auth(self, api: ApiConfig) -> bool:
        return api.token is not None or api.token_vault_path is not None

    def _token(self, name: str, api: ApiConfig) -> str | None:
        if api.token is not None:
            return api.token.get_secret_value()
        if api.token_vault_path is None:
            return None
        with self._lock:
            if name in self._tokens:
                return self._tokens[name]
        if self.vault is None:
            raise NotConfigured(f"API {name!r} takes its token from Vault, but Vault is not set up")
        path, _, key = api.token_vault_path.partition("#")
        outcome = self.vault.read_configured(path)
        if not isinstance(outcome, Ok):
            raise Unavailable(f"cannot get API {name!r}'s token from Vault: {outcome.reason}")
        secret = outcome.value.get(key or "token")
        if secret is None:
            raise NotConfigured(f"Vault path {path} has no key {key or 'token'!r}")
        with self._lock:
            self._tokens[name] = secret.reveal()
        return secret.reveal()

    def _fetch(self, method: str, url: str, name: str | None, api: ApiConfig | None) -> HttpResult:
        headers = {"Accept": "application/json, text/plain;q=0.9, */*;q=0.5"}
        if name is not None and api is not None:
            token = self._token(name, api)
            if token:
                value = f"{api.auth_scheme} {token}" if api.auth_scheme else token
                headers[api.auth_header] = value
        timeout = (api.timeout_seconds if api else None) or self.config.timeout_seconds
        cap = self._judge.current().limits.output_cap_bytes
        try:
            with self._http.stream(method, url, headers=headers, timeout=timeout) as response:
                body = bytearray()
                truncated = False
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > cap:
                        truncated = True
                        del body[cap:]
                        break
        except httpx.TimeoutException as exc:
            raise Unavailable(f"no answer within {timeout:g}s") from exc
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot connect ({type(exc).__name__})") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise Unavailable(
                f"answered HTTP {status}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status in (401, 403) and name is not None:
            with self._lock:
                self._tokens.pop(name, None)  # fetched again from Vault next time
            raise AuthError(f"the API rejected our credentials (HTTP {status})")
        content_type = response.headers.get("content-type", "")
        text = bytes(body).decode(response.encoding or "utf-8", "replace")
        parsed: Any | None = None
        if "json" in content_type and not truncated and text:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        return HttpResult(
            url=url,
            status=status,
            content_type=content_type,
            json=parsed,
            text=None if parsed is not None else text,
            truncated=truncated,
            headers={k: v for k, v in response.headers.items() if k.lower() in _KEEP_HEADERS},
        )
