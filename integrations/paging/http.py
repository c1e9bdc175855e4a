"""The one HTTP exchange both pagers share: POST JSON, map the status to this package's errors,
retry what is retryable with the project's policy (Retry-After honoured as a floor)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from core.retry import RetryPolicy, parse_retry_after
from integrations.errors import AuthError, BadRequest, Unavailable
from integrations.retry import call_with_retry


def _detail(response: httpx.Response) -> str:
    """The pager's own words about a refusal (its `message`/`errors`), short."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(body, dict):
        return str(body)[:200]
    parts = [str(body.get(k)) for k in ("status", "message") if body.get(k)]
    errors = body.get("errors")
    if errors:
        parts.append(str(errors)[:200])
    return "; ".join(parts)[:300]


def post_json(
    client: httpx.Client,
    url: str,
    body: Mapping[str, Any],
    *,
    service: str,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    retry: RetryPolicy,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """POST `body` and return the 2xx answer's JSON. Raises Unavailable / BadRequest /
    AuthError (the request's headers, which carry the key, are never part of a message)."""

    def once() -> dict[str, Any]:
        try:
            response = client.post(url, json=dict(body), headers=dict(headers or {}), params=params)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"{service}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise Unavailable(f"{service}: cannot connect ({type(exc).__name__})") from None
        status = response.status_code
        if 200 <= status < 300:
            try:
                data = response.json()
            except ValueError:
                data = {}
            return data if isinstance(data, dict) else {}
        detail = _detail(response)
        if status == 429 or status >= 500:
            raise Unavailable(
                f"{service}: HTTP {status} {detail}".strip(),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status in (401, 403):
            raise AuthError(f"{service}: HTTP {status}: the key was refused {detail}".strip())
        raise BadRequest(f"{service}: HTTP {status}: {detail}".strip())

    return call_with_retry(once, retry, sleep=sleep)
