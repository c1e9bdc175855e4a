"""The console on its own port, on the pooled WSGI server the HTTP-mode bot also uses."""

from __future__ import annotations

import logging
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler

from bot.console.app import WsgiApp
from core.wsgi_server import PooledWSGIServer

log = logging.getLogger(__name__)


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # the request line carries the link's token in its query: log the path only
        path = self.path.split("?", 1)[0]
        log.debug("console: %s %s %s", self.command, path, args[1] if len(args) > 1 else "")


class ConsoleServer:
    """Serves `app` on `host:port` (port 0: any free port; read `.port`) on a daemon thread."""

    def __init__(self, app: WsgiApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = PooledWSGIServer((host, port), app, _Handler, name="console-http")

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def local_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConsoleServer:
        self.server.start()
        log.info("console: serving on port %d", self.port)
        return self

    def stop(self) -> None:
        self.server.stop()
