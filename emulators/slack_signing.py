"""Send what Slack sends to an HTTP-mode app: signed Events API, interactivity and slash-command
requests (`X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, *, timestamp: int | None = None, content_type: str
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }


def event_callback(
    event: dict[str, Any], *, team_id: str = "T0STEADY", event_id: str | None = None
) -> dict[str, Any]:
    return {
        "token": "emulated",
        "team_id": team_id,
        "api_app_id": "A0STEADY",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team_id, "user_id": "U0BOT", "is_bot": True}],
    }


def _post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    client: httpx.Client | None,
    timeout: float,
) -> httpx.Response:
    if client is not None:
        return client.post(url, content=body, headers=headers, timeout=timeout)
    with httpx.Client() as c:
        return c.post(url, content=body, headers=headers, timeout=timeout)


def send_event(
    url: str,
    signing_secret: str,
    event: dict[str, Any],
    *,
    team_id: str = "T0STEADY",
    event_id: str | None = None,
    retry_num: int | None = None,
    timestamp: int | None = None,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
) -> httpx.Response:
    """POST an `event_callback` the way the Events API does; `retry_num` marks a redelivery."""
    body = json.dumps(event_callback(event, team_id=team_id, event_id=event_id)).encode()
    headers = signed_headers(
        signing_secret, body, timestamp=timestamp, content_type="application/json"
    )
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return _post(url, body, headers, client, timeout)


def send_interaction(
    url: str,
    signing_secret: str,
    payload: dict[str, Any],
    *,
    timestamp: int | None = None,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
) -> httpx.Response:
    """POST an interactivity payload (`payload=<json>`, form encoded)."""
    form = {"payload": json.dumps(payload)}
    return _post_form(url, signing_secret, form, timestamp, client, timeout)


def send_command(
    url: str,
    signing_secret: str,
    *,
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    team_id: str = "T0STEADY",
    response_url: str = "",
    timestamp: int | None = None,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
) -> httpx.Response:
    """POST a slash command the way Slack does (form encoded)."""
    form = {
        "token": "emulated",
        "team_id": team_id,
        "channel_id": channel_id,
        "user_id": user_id,
        "command": command,
        "text": text,
        "response_url": response_url,
        "trigger_id": uuid.uuid4().hex,
        "api_app_id": "A0STEADY",
    }
    return _post_form(url, signing_secret, form, timestamp, client, timeout)


def _post_form(
    url: str,
    signing_secret: str,
    form: dict[str, str],
    timestamp: int | None,
    client: httpx.Client | None,
    timeout: float,
) -> httpx.Response:
    body = urlencode(form).encode()
    headers = signed_headers(
        signing_secret, body, timestamp=timestamp, content_type="application/x-www-form-urlencoded"
    )
    return _post(url, body, headers, client, timeout)


def block_action(
    action_id: str,
    value: str,
    *,
    user: str,
    channel: str | None = None,
    message_ts: str | None = None,
    team_id: str = "T0STEADY",
    response_url: str = "",
) -> dict[str, Any]:
    """A `block_actions` payload for a button click (message or App Home)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": team_id},
        "user": {"id": user},
        "api_app_id": "A0STEADY",
        "trigger_id": uuid.uuid4().hex,
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }
    if channel is not None:
        payload["channel"] = {"id": channel}
        payload["container"] = {
            "type": "message",
            "channel_id": channel,
            "message_ts": message_ts,
        }
        payload["message"] = {"ts": message_ts}
    else:
        payload["container"] = {"type": "view"}
        payload["view"] = {"type": "home"}
    return payload
