"""Named log-store adapters: Loki (`GET /loki/api/v1/query_range`) and Elasticsearch/OpenSearch
(`POST /<index>/_search`).

`_search` is a POST, yet it only reads: Elasticsearch takes the query in the request body, and
the adapter sends nothing but a search body to the `_search` endpoint of the configured store.
That is why this adapter alone may POST; the generic HTTP client never does.

Queries are confined to the tenant: Loki selectors get a `tenant="<name>"` matcher (a selector
naming another tenant is refused), Elasticsearch queries a `term` filter on the tenant field.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from core.retry import RetryPolicy, parse_retry_after
from core.scrubber import Scrubber
from integrations.breaker import CircuitBreaker
from integrations.errors import (
    AccessDenied,
    AuthError,
    BadRequest,
    NotConfigured,
    Unavailable,
    ask,
)
from integrations.guard import Guard
from integrations.health import Health, timed
from integrations.outcome import Degraded, Outcome
from policy.judge import Judge, LogsQuery

MAX_LIMIT = 1000
MAX_LINE_CHARS = 4000


@dataclass(frozen=True)
class LogStoreConfig:
    kind: str  # "loki" | "elasticsearch"
    url: str
    index: str = "*"  # elasticsearch only
    tenant_label: str = "tenant"
    message_field: str = "message"
    timestamp_field: str = "@timestamp"


@dataclass(frozen=True)
class LogsConfig:
    """The named log stores and their timeout (built from Settings by `bot.wiring`)."""

    stores: dict[str, LogStoreConfig] = field(default_factory=dict)
    timeout_seconds: float = 10.0


_SELECTOR = re.compile(r"^\s*\{(?P<body>[^}]*)\}(?P<rest>.*)$", re.S)


def confine_logql(query: str, label: str, tenant: str) -> str:
    """Add `label="tenant"` to the stream selector; refuse a selector aimed elsewhere."""
    m = _SELECTOR.match(query)
    if not m:
        raise BadRequest('a Loki query starts with a stream selector, e.g. {app="auth-api"}')
    body = m.group("body")
    for found in re.finditer(rf'(?<![\w]){re.escape(label)}\s*(=~|!~|!=|=)\s*"([^"]*)"', body):
        if found.group(1) != "=" or found.group(2) != tenant:
            raise AccessDenied(
                f'the query selects {label}{found.group(1)}"{found.group(2)}"; only '
                f'{label}="{tenant}" is readable for this ticket'
            )
        return query
    joined = f'{label}="{tenant}"' + (f", {body.strip()}" if body.strip() else "")
    return "{" + joined + "}" + m.group("rest")


class LogStores:
    def __init__(
        self,
        config: LogsConfig,
        judge: Judge,
        scrubber: Scrubber,
        *,
        retry: RetryPolicy | None = None,
        breaker_factory: Callable[[str], CircuitBreaker] | None = None,
        metrics: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._judge = judge
        self.scrubber = scrubber
        self.stores = dict(config.stores)
        factory = breaker_factory or (lambda name: CircuitBreaker(name))
        self._guards = {
            name: Guard(
                f"logs:{name}",
                scrubber,
                breaker=factory(f"logs:{name}"),
                retry=retry,
                metrics=metrics,
                sleep=sleep,
            )
            for name in self.stores
        }
        self._http = httpx.Client(follow_redirects=False, trust_env=False)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def query(
        self,
        store: str,
        query: str,
        tenant: str | None,
        since_seconds: int = 3600,
        limit: int = 100,
    ) -> Outcome[list[dict[str, Any]]]:
        """Newest first: `[{"time": iso, "labels": {...}, "line": str}]`."""
        config = self.stores.get(store)
        if config is None:
            known = ", ".join(sorted(self.stores)) or "none configured"
            return Degraded(f"logs:{store}", f"unknown log store {store!r} ({known})", False)
        limit = max(1, min(limit, MAX_LIMIT))

        def run() -> list[dict[str, Any]]:
            ask(self._judge, LogsQuery(store), tenant)  # unknown or missing tenant: denied
            assert tenant is not None
            if config.kind == "loki":
                return self._loki(config, query, tenant, since_seconds, limit)
            if config.kind == "elasticsearch":
                return self._elasticsearch(config, query, tenant, since_seconds, limit)
            raise NotConfigured(f"log store {store!r} has unknown kind {config.kind!r}")

        return self._guards[store].call(f"querying {store}", run)

    def health(self) -> list[Health]:
        results = []
        for name, config in self.stores.items():
            path = "/ready" if config.kind == "loki" else "/_cluster/health"

            def probe(url: str = config.url + path) -> tuple[bool, str, str]:
                response = self._send("GET", url, None)
                return True, "none", f"ok (HTTP {response.status_code})"

            results.append(timed(f"logs:{name}", probe, self.scrubber))
        return results

    # --- adapters -------------------------------------------------------------------------
    def _loki(
        self, config: LogStoreConfig, query: str, tenant: str, since: int, limit: int
    ) -> list[dict[str, Any]]:
        confined = confine_logql(query, config.tenant_label, tenant)
        end = time.time_ns()
        params = {
            "query": confined,
            "start": str(end - since * 1_000_000_000),
            "end": str(end),
            "limit": str(limit),
            "direction": "backward",
        }
        response = self._send("GET", f"{config.url}/loki/api/v1/query_range", None, params=params)
        data = response.json().get("data") or {}
        rows = []
        for stream in data.get("result") or []:
            labels = stream.get("stream") or {}
            for ns, line in stream.get("values") or []:
                at = datetime.fromtimestamp(int(ns) / 1e9, UTC)
                rows.append(
                    {"time": at.isoformat(), "labels": labels, "line": line[:MAX_LINE_CHARS]}
                )
        rows.sort(key=lambda r: str(r["time"]), reverse=True)
        return rows[:limit]

    def _elasticsearch(
        self, config: LogStoreConfig, query: str, tenant: str, since: int, limit: int
    ) -> list[dict[str, Any]]:
        body = {
            "size": limit,
            "sort": [{config.timestamp_field: {"order": "desc"}}],
            "query": {
                "bool": {
                    "must": [{"query_string": {"query": query or "*"}}],
                    "filter": [
                        {"term": {config.tenant_label: tenant}},
                        {"range": {config.timestamp_field: {"gte": f"now-{int(since)}s"}}},
                    ],
                }
            },
        }
        url = f"{config.url}/{config.index}/_search"
        hits = (self._send("POST", url, body).json().get("hits") or {}).get("hits") or []
        rows = []
        for hit in hits:
            source = dict(hit.get("_source") or {})
            line = str(source.pop(config.message_field, ""))
            at = str(source.pop(config.timestamp_field, ""))
            rows.append({"time": at, "labels": source, "line": line[:MAX_LINE_CHARS]})
        return rows

    def _send(
        self, method: str, url: str, body: Any, params: dict[str, str] | None = None
    ) -> httpx.Response:
        timeout = self.config.timeout_seconds
        try:
            response = self._http.request(method, url, json=body, params=params, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"no answer within {timeout:g}s") from exc
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot connect ({type(exc).__name__})") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise Unavailable(f"answered HTTP {status}", retry_after=retry_after)
        if status in (401, 403):
            raise AuthError(f"the log store rejected the request (HTTP {status})")
        if status >= 400:
            raise BadRequest(
                f"the log store rejected the query (HTTP {status}): {response.text[:300]}"
            )
        try:
            response.json()
        except ValueError as exc:
            if url.endswith("/ready"):
                return response
            raise Unavailable("the log store answered something that is not JSON") from exc
        return response
