"""PagerDuty Events API v2: `POST {base}/v2/enqueue` with `routing_key`, `event_action`
(trigger | resolve), `dedup_key` and, for a trigger, `payload.summary/source/severity` and
`payload.custom_details`. 202 accepted; 400 invalid event (not retried); 429 and 5xx retried.
A trigger repeated with the same `dedup_key` while the alert is open is folded into it, which
is what makes re-sending after an unknown outcome safe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from core.retry import RetryPolicy
from integrations.paging.http import post_json

SUMMARY_LIMIT = 1024  # payload.summary's documented maximum
DEDUP_LIMIT = 255


def event_body(
    routing_key: SecretStr, action: str, dedup_key: str, event: dict[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": routing_key.get_secret_value(),
        "event_action": action,
        "dedup_key": dedup_key[:DEDUP_LIMIT],
    }
    if action == "trigger":
        payload = dict(event.get("payload") or {})
        payload["summary"] = str(payload.get("summary") or "")[:SUMMARY_LIMIT]
        body["payload"] = payload
        for extra in ("links", "client", "client_url"):
            if event.get(extra):
                body[extra] = event[extra]
    return body


class PagerDutyClient:
    def __init__(
        self,
        base_url: str,
        client: httpx.Client,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
    ) -> None:
        self.url = base_url.rstrip("/") + "/v2/enqueue"
        self._client = client
        self._retry = retry
        self._sleep = sleep

    def enqueue(
        self, routing_key: SecretStr, action: str, dedup_key: str, event: dict[str, Any]
    ) -> dict[str, Any]:
        """Send one event; returns PagerDuty's answer (`status`, `message`, `dedup_key`)."""
        return post_json(
            self._client,
            self.url,
            event_body(routing_key, action, dedup_key, event),
            service="pagerduty",
            retry=self._retry,
            sleep=self._sleep,
        )
