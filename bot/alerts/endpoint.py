"""`POST /alerts/alertmanager`: authenticate, bound, parse, then hand to `AlertIntake`.

Order matters: credentials are checked before the body is read (an unauthenticated caller
cannot make the bot read or parse anything), the size before reading it, the whole body is
validated before anything is stored. Every refusal stores nothing.

Credentials: `Authorization: Bearer <token>` or HTTP basic auth with the configured username
and the token as password (Alertmanager's `http_config.authorization` or `basic_auth`). Both
are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Callable, Mapping

from pydantic import SecretStr, ValidationError

from bot.alerts.intake import AlertIntake
from bot.alerts.payload import Notification
from bot.errors import StoreError
from bot.metrics import Metrics
from bot.ops.health import Reply

log = logging.getLogger(__name__)

PATH = "/alerts/alertmanager"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="steadfast", Basic realm="steadfast"'}


class AlertEndpoint:
    def __init__(
        self,
        intake: AlertIntake,
        *,
        token: SecretStr,
        username: str = "alertmanager",
        max_body_bytes: int = 1_048_576,
        metrics: Metrics | None = None,
    ) -> None:
        self.intake = intake
        self._token = token.get_secret_value().encode()
        self._username = username.encode()
        self.max_body_bytes = max_body_bytes
        self._metrics = metrics

    def __call__(self, headers: Mapping[str, str], read: Callable[[int], bytes]) -> Reply:
        reply = self._handle(headers, read)
        if self._metrics is not None:
            self._metrics.alert_requests.labels(code=str(reply.status)).inc()
        return reply

    def authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer":
            return hmac.compare_digest(credentials.encode(), self._token)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True)
            except (binascii.Error, ValueError):
                return False
            user, sep, password = decoded.partition(b":")
            # both compared every time: which half was wrong must not show in the timing
            user_ok = hmac.compare_digest(user, self._username)
            password_ok = hmac.compare_digest(password, self._token)
            return bool(sep) and user_ok and password_ok
        return False

    def _handle(self, headers: Mapping[str, str], read: Callable[[int], bytes]) -> Reply:
        if not self.authorized(headers.get("Authorization")):
            log.warning("alert endpoint: refused a request without valid credentials")
            return Reply(401, {"error": "unauthorized"}, CHALLENGE)
        declared = (headers.get("Content-Length") or "").strip()
        if not declared.isdigit():
            return Reply(411, {"error": "a Content-Length header is required"})
        length = int(declared)
        if length > self.max_body_bytes:
            return Reply(
                413,
                {
                    "error": f"body of {length} bytes is over the {self.max_body_bytes}-byte cap; "
                    "lower max_alerts in the webhook_config"
                },
            )
        raw = read(length)
        try:
            notification = Notification.model_validate(json.loads(raw))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return Reply(400, {"error": f"body is not JSON: {exc}"})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return Reply(
                400,
                {"error": f"not an Alertmanager webhook (version 4) body: {where}: {first['msg']}"},
            )
        try:
            result = self.intake.receive(notification)
        except StoreError as exc:
            log.error("alert endpoint: the store failed: %s", exc)
            # Alertmanager retries a 5xx; the idempotency keys make the retry safe
            return Reply(503, {"error": "the database is unavailable; retry"})
        return Reply(202, result.to_dict())
