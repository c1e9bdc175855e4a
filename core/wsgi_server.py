"""The stdlib WSGI server on a fixed pool of threads: Slack's HTTP mode and the console.

`ThreadingMixIn` starts a thread per connection, and wsgiref answers one request per
connection, so under a burst of Slack deliveries starting threads cost the bot about as much
CPU as recording the mentions did. A pool keeps the threads; connections beyond it wait in
the listen queue (a burst queues, it is not refused), and a client that stops sending mid
request holds a thread for `REQUEST_TIMEOUT` seconds at most.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

REQUEST_TIMEOUT = 30.0  # seconds a connection may take to send its request
THREADS = 32


class PooledWSGIServer(WSGIServer):
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(
        self,
        address: tuple[str, int],
        app: WsgiApp,
        handler: type[WSGIRequestHandler],
        *,
        name: str,
        threads: int = THREADS,
    ) -> None:
        super().__init__(address, handler)
        self.set_app(app)
        self.name = name
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        self._pool.submit(self._handle, request, client_address)

    def _handle(self, request: socket.socket, client_address: Any) -> None:
        try:
            request.settimeout(REQUEST_TIMEOUT)
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def start(self) -> None:
        """Serve on a daemon thread."""
        self._thread = threading.Thread(target=self.serve_forever, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._thread is not None:
            self._thread.join(timeout=10)
