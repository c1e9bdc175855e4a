"""Running the bot: HTTP mode (Bolt's WSGI adapter on a threaded server, plus `/healthz`) or
Socket Mode (slack_sdk's built-in client, reconnecting on its own)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.errors import StoreError
from bot.settings import Settings
from bot.slack.app import SlackBot
from bot.slack.errors import SlackConfigError
from bot.slack.signed import SignedRequests
from core.wsgi_server import PooledWSGIServer

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


def _respond(
    start_response: Callable[..., Any], status: str, body: dict[str, object]
) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


def wsgi_app(bot: SlackBot) -> Callable[..., Iterable[bytes]]:
    bolt = SlackRequestHandler(bot.app, path=EVENTS_PATH)
    signed = SignedRequests(bot.signing_secret, bot.store) if bot.signing_secret else None

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            body: dict[str, object]
            try:
                bot.store.ping()
                status, body = "200 OK", {"ok": True}
            except StoreError as exc:
                status, body = "503 Service Unavailable", {"ok": False, "error": str(exc)}
            return _respond(start_response, status, body)
        if signed is not None and environ.get("REQUEST_METHOD") == "POST":
            declared = str(environ.get("CONTENT_LENGTH") or "0")
            length = int(declared) if declared.isdigit() else 0
            raw: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
            verdict = signed.check(
                raw,
                environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                environ.get("HTTP_X_SLACK_SIGNATURE"),
            )
            if verdict.status:
                reasons = {401: "401 Unauthorized", 503: "503 Service Unavailable"}
                return _respond(start_response, reasons[verdict.status], {"error": verdict.reason})
            environ["wsgi.input"] = io.BytesIO(raw)  # Bolt reads (and verifies) it again
        return bolt(environ, start_response)

    return app


class HttpBot:
    """HTTP mode on `host:port` (port 0: pick a free one; read `.port`)."""

    def __init__(self, bot: SlackBot, *, host: str = "0.0.0.0", port: int = 3000) -> None:
        self.bot = bot
        self.server = PooledWSGIServer(
            (host, port), wsgi_app(bot), _QuietHandler, name="slack-http"
        )

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{EVENTS_PATH}"

    def start(self) -> HttpBot:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()


class SocketBot:
    """Socket Mode: `apps.connections.open` with the app token, then a WebSocket that the
    client keeps alive and reopens after a disconnect."""

    def __init__(self, bot: SlackBot, settings: Settings, *, ping_interval: float = 10) -> None:
        if settings.slack_app_token is None:
            raise SlackConfigError(
                "SLACK_APP_TOKEN (xapp-…) is not set; Socket Mode needs it "
                "(or run `steadfast bot --mode http`)"
            )
        self.bot = bot
        self.handler = SocketModeHandler(
            bot.app,
            app_token=settings.slack_app_token.get_secret_value(),
            web_client=WebClient(base_url=settings.slack_api_url),
            ping_interval=ping_interval,
        )

    def start(self) -> SocketBot:
        self.handler.connect()  # type: ignore[no-untyped-call]
        return self

    def stop(self) -> None:
        self.handler.close()  # type: ignore[no-untyped-call]
