"""The console on its own port: the threaded stdlib WSGI server the HTTP-mode bot also uses."""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bot.console.app import WsgiApp

log = logging.getLogger(__name__)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # the request line carries the link's token in its query: log the path only
        path = self.path.split("?", 1)[0]
        log.debug("console: %s %s %s", self.command, path, args[1] if len(args) > 1 else "")


class ConsoleServer:
    """Serves `app` on `host:port` (port 0: any free port; read `.port`) on a daemon thread."""

    def __init__(self, app: WsgiApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = make_server(
            host, port, app, server_class=_ThreadingServer, handler_class=_Handler
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def local_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConsoleServer:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="console-http", daemon=True
        )
        self._thread.start()
        log.info("console: serving on port %d", self.port)
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
