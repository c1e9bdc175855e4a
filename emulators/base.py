"""What every emulator shares: a threaded HTTP server on 127.0.0.1, routing, fault knobs
settable at run time over `/_control/*`, a record of every request, and the scenario file.

Fault modes (POST /_control/faults with JSON, or `Emulator.faults.set(...)` in-process):
  down            close the connection without answering
  reset           send a TCP RST
  slow            answer after `delay_ms`
  timeout         never answer within any sane client timeout (sleeps `delay_ms`, default 30 s)
  500 | 503 | 529 answer that status with a JSON error body
  429             answer 429 with `Retry-After: retry_after`
  expired_token   answer the emulator's own "token expired" response (403 / 401)
Optional: `count` (apply to the next N matching requests, then clear), `path` (regex the
request path must match to be affected).
"""

from __future__ import annotations

import json
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import yaml

DEFAULT_SCENARIO = Path(__file__).parent / "scenarios" / "demo.yaml"


def load_scenario(path: Path | str | None = None) -> dict[str, Any]:
    data = yaml.safe_load(Path(path or DEFAULT_SCENARIO).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a scenario is a mapping at the top level")
    return data


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups from the route regex

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode()).items()}

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON; str/bytes → as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    # a streamed answer (a Kubernetes watch): sent chunk by chunk with chunked transfer
    # encoding, ended with the terminating chunk when the iterator is exhausted
    stream: Iterator[bytes] | None = None

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.content_type or "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        if self.body is None:
            return b"", self.content_type or "application/json"
        return json.dumps(self.body).encode(), self.content_type or "application/json"


Handler = Callable[[Request], Response]


@dataclass
class Fault:
    mode: str
    delay_ms: int = 0
    retry_after: float = 1.0
    count: int | None = None
    path: str | None = None

    def matches(self, path: str) -> bool:
        return self.path is None or re.search(self.path, path) is not None


class Faults:
    """The active fault, shared by the request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: Fault | None = None
        self.injected = 0

    def set(self, mode: str | None, **kwargs: Any) -> None:
        with self._lock:
            self._fault = Fault(mode=mode, **kwargs) if mode and mode != "none" else None

    def clear(self) -> None:
        self.set(None)

    def take(self, path: str) -> Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None or not fault.matches(path) or path.startswith("/_control"):
                return None
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self._fault = None
            self.injected += 1
            return fault

    def describe(self) -> dict[str, Any] | None:
        with self._lock:
            return None if self._fault is None else dict(self._fault.__dict__)


class Emulator:
    """Subclasses add routes in `__init__` with `self.route(method, pattern, handler)`."""

    name = "emulator"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        self.scenario = scenario if scenario is not None else load_scenario()
        self.faults = Faults()
        self.requests: list[Request] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- routing --------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def dispatch(self, request: Request) -> Response:
        allowed = False
        for method, pattern, handler in self._routes:
            m = pattern.match(request.path)
            if not m:
                continue
            allowed = True
            if method in (request.method, "*"):
                request.params = m.groupdict()
                return handler(request)
        if allowed:
            return Response(405, {"error": f"method {request.method} not allowed"})
        return Response(404, {"error": f"no route for {request.path}"})

    def fault_response(self, fault: Fault, request: Request) -> Response:
        """The answer for status-code faults; subclasses override for `expired_token`."""
        if fault.mode == "429":
            return Response(
                429, {"error": "rate limited"}, {"Retry-After": f"{fault.retry_after:g}"}
            )
        if fault.mode == "expired_token":
            return Response(403, {"errors": ["permission denied: token expired"]})
        return Response(int(fault.mode), {"error": f"injected {fault.mode}"})

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    # --- control endpoint -----------------------------------------------------------------
    def control(self, request: Request) -> Response:
        action = request.path.removeprefix("/_control/")
        if action == "faults" and request.method == "POST":
            body = request.json() or {}
            self.faults.set(body.pop("mode", None), **body)
            return Response(200, {"fault": self.faults.describe()})
        if action == "faults":
            if request.method == "DELETE":
                self.faults.clear()
            return Response(
                200, {"fault": self.faults.describe(), "injected": self.faults.injected}
            )
        if action == "requests":
            with self._lock:
                rows = [
                    {"method": r.method, "path": r.path, "query": r.query} for r in self.requests
                ]
            return Response(200, {"requests": rows})
        if action == "state":
            return Response(200, self.state())
        return Response(404, {"error": f"unknown control {action}"})

    def state(self) -> dict[str, Any]:
        """What the emulator observed; subclasses add their own records."""
        return {"requests": len(self.requests)}

    # --- server ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "emulator not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        emulator = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    path=split.path,
                    query=parse_qs(split.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                if split.path.startswith("/_control/"):
                    return self._send(emulator.control(request))
                emulator.record(request)
                fault = emulator.faults.take(split.path)
                if fault is not None:
                    if fault.mode in ("down", "reset"):
                        if fault.mode == "reset":
                            self.connection.setsockopt(
                                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                            )
                        self.close_connection = True
                        self.connection.close()
                        return None
                    if fault.mode in ("slow", "timeout"):
                        time.sleep(
                            (fault.delay_ms or (30_000 if fault.mode == "timeout" else 0)) / 1000
                        )
                    else:
                        return self._send(emulator.fault_response(fault, request))
                try:
                    response = emulator.dispatch(request)
                except Exception as exc:  # an emulator bug must show up as a 500, not a hang
                    response = Response(500, {"error": f"emulator error: {exc!r}"})
                return self._send(response)

            def _send(self, response: Response) -> None:
                if response.stream is not None:
                    return self._send_stream(response, response.stream)
                payload, content_type = response.encode()
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in response.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _send_stream(self, response: Response, chunks: Iterator[bytes]) -> None:
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.content_type or "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    for key, value in response.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    for chunk in chunks:
                        if chunk:
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                            self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")  # the stream ends cleanly
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                finally:
                    close = getattr(chunks, "close", None)
                    if close is not None:
                        close()  # let the producer unregister itself when the client left

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve
            do_LIST = _serve  # Vault's LIST verb (hvac `list_secrets`)

        class _Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                # a client killed mid-request (SIGKILL in crash tests) is not an emulator fault
                if isinstance(sys.exc_info()[1], ConnectionError):
                    return
                super().handle_error(request, client_address)

        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._thread = threading.Thread(
            # a short poll interval makes stop() (and so every test teardown) fast
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(emulator: Emulator) -> None:
    """`python -m emulators.<name>`: print the URL on one line, then serve until killed."""
    emulator.start()
    print(json.dumps({"name": emulator.name, "url": emulator.url}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()
