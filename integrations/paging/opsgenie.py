"""Opsgenie Alert API: create `POST {base}/v2/alerts` (`message`, `alias`, `description`,
`details`, `priority`, `source`), close `POST {base}/v2/alerts/{alias}/close?identifierType=alias`,
both authenticated with `Authorization: GenieKey <key>`. Both answer 202 (processed
asynchronously, `requestId`); 400/422 refuse the body, 401/403 the key, 429 asks to slow down.
A create repeated with the same alias while the alert is open only raises its count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from core.retry import RetryPolicy
from integrations.paging.http import post_json

MESSAGE_LIMIT = 130  # `message`'s documented maximum
DESCRIPTION_LIMIT = 15_000
PRIORITY = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P4"}


class OpsgenieClient:
    def __init__(
        self,
        base_url: str,
        client: httpx.Client,
        retry: RetryPolicy,
        sleep: Callable[[float], None],
    ) -> None:
        self.base = base_url.rstrip("/")
        self._client = client
        self._retry = retry
        self._sleep = sleep

    def _auth(self, api_key: SecretStr) -> dict[str, str]:
        return {"Authorization": f"GenieKey {api_key.get_secret_value()}"}

    def create(self, api_key: SecretStr, alias: str, event: dict[str, Any]) -> dict[str, Any]:
        payload = event.get("payload") or {}
        details = {str(k): str(v) for k, v in (payload.get("custom_details") or {}).items()}
        body = {
            "message": str(payload.get("summary") or "")[:MESSAGE_LIMIT],
            "alias": alias,
            "description": str(details.get("summary") or payload.get("summary") or "")[
                :DESCRIPTION_LIMIT
            ],
            "details": details,
            "source": str(payload.get("source") or "steadfast"),
            "priority": PRIORITY.get(str(payload.get("severity")), "P3"),
        }
        return post_json(
            self._client,
            f"{self.base}/v2/alerts",
            body,
            service="opsgenie",
            headers=self._auth(api_key),
            retry=self._retry,
            sleep=self._sleep,
        )

    def close(self, api_key: SecretStr, alias: str, note: str) -> dict[str, Any]:
        return post_json(
            self._client,
            f"{self.base}/v2/alerts/{quote(alias, safe='')}/close",
            {"source": "steadfast", "note": note},
            service="opsgenie",
            headers=self._auth(api_key),
            params={"identifierType": "alias"},
            retry=self._retry,
            sleep=self._sleep,
        )
