"""`Pager`: one `Page` to the pager it names, with the key looked up by name."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from core.retry import RetryPolicy
from integrations.errors import NotConfigured
from integrations.paging.opsgenie import OpsgenieClient
from integrations.paging.pagerduty import PagerDutyClient

Service = Literal["pagerduty", "opsgenie"]
Action = Literal["trigger", "resolve"]

# A few quick tries inside one send; past them the caller (the outbox) puts the page back for
# later, so a long Retry-After delays the page without holding the sender thread.
DEFAULT_RETRY = RetryPolicy(attempts=3, base_seconds=0.5, max_seconds=5.0, max_retry_after=5.0)


@dataclass(frozen=True)
class PagingConfig:
    """The pagers' own settings (built from Settings by `bot.wiring`)."""

    keys: Mapping[str, SecretStr] = field(default_factory=dict)
    pagerduty_url: str = "https://events.pagerduty.com"
    opsgenie_url: str = "https://api.opsgenie.com"
    timeout_seconds: float = 10.0
    retry: RetryPolicy = DEFAULT_RETRY


@dataclass(frozen=True)
class Page:
    """One page, as the outbox stores it: everything but the key, which is named."""

    service: Service
    key_name: str
    action: Action
    dedup_key: str  # PagerDuty dedup_key, Opsgenie alias: the job id
    event: dict[str, Any] = field(default_factory=dict)  # {"payload": {...}, "links": [...]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Page:
        service, action = data.get("service"), data.get("action")
        if service not in ("pagerduty", "opsgenie") or action not in ("trigger", "resolve"):
            raise ValueError(f"not a page: service={service!r} action={action!r}")
        return cls(
            service=service,
            key_name=str(data["key_name"]),
            action=action,
            dedup_key=str(data["dedup_key"]),
            event=dict(data.get("event") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "key_name": self.key_name,
            "action": self.action,
            "dedup_key": self.dedup_key,
            "event": self.event,
        }


@dataclass(frozen=True)
class Sent:
    """The pager accepted it: its answer, minus anything secret (there is none in either)."""

    answer: dict[str, Any]


class Pager:
    def __init__(
        self,
        config: PagingConfig,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._http = client or httpx.Client(
            timeout=config.timeout_seconds, follow_redirects=False, trust_env=False
        )
        self.pagerduty = PagerDutyClient(config.pagerduty_url, self._http, config.retry, sleep)
        self.opsgenie = OpsgenieClient(config.opsgenie_url, self._http, config.retry, sleep)

    def has_key(self, name: str) -> bool:
        return name in self.config.keys

    def send(self, page: Page) -> Sent:
        """Deliver `page`. Raises NotConfigured (no key by that name), Unavailable,
        BadRequest or AuthError."""
        key = self.config.keys.get(page.key_name)
        if key is None:
            raise NotConfigured(
                f"no paging key named {page.key_name!r}: add it to STEADFAST_PAGING_KEYS "
                "(or a file of that name in STEADFAST_PAGING_KEYS_DIR)"
            )
        if page.service == "pagerduty":
            answer = self.pagerduty.enqueue(key, page.action, page.dedup_key, page.event)
        elif page.action == "trigger":
            answer = self.opsgenie.create(key, page.dedup_key, page.event)
        else:
            answer = self.opsgenie.close(key, page.dedup_key, "resolved: the job succeeded")
        return Sent(answer)

    def close(self) -> None:
        self._http.close()
