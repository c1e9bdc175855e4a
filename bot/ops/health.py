"""The probe and scrape endpoints every Steadfast process serves on `STEADFAST_HEALTH_PORT`.

- `/healthz`: the process is alive and its HTTP thread answers. It runs no checks on purpose:
  a database outage must make pods unready, not get them restarted in a loop by the kubelet.
- `/readyz`: every named check passes. A check is a callable that returns on success and
  raises on failure; the exception's message is the reason shown in the 503 body.
- `/metrics`: the Prometheus exposition of `metrics.registry` (OpenMetrics when asked for).
- `POST` routes a process adds (`posts`): the bot's `/alerts/alertmanager`. Each route does
  its own authentication; this server only dispatches and writes the reply.

Plain `http.server` on a daemon thread: no event loop, matching the threads-only design.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from prometheus_client.exposition import choose_encoder

from bot.errors import ConfigError
from bot.metrics import Metrics

log = logging.getLogger(__name__)

Check = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Reply:
    """A POST route's answer: status, JSON body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


# (request headers, read(n) → the body's first n bytes) → the reply
PostRoute = Callable[[Mapping[str, str], Callable[[int], bytes]], Reply]

# The readyz body is readable by anything that can reach the pod port, so reasons are cut
# short and any credentials embedded in a URL (a database URL in a driver error) are masked.
_MAX_REASON = 300
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]*:[^/@\s]*@")
_KEYWORD_SECRET = re.compile(r"(?i)\b(?P<key>password|passwd|pwd|token|secret)=(?:'[^']*'|\S+)")


def describe_failure(exc: BaseException, scrub: Callable[[str], str] | None = None) -> str:
    """A short, credential-free reason for a failed check. `scrub` removes known secret
    values (e.g. `core.scrubber.Scrubber.scrub`) before the patterns below run."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if scrub is not None:
        text = scrub(text)
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    reason = _URL_CREDENTIALS.sub(r"\g<scheme>***@", reason)
    reason = _KEYWORD_SECRET.sub(r"\g<key>=***", reason)
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…"


class HealthServer:
    """Serve `/healthz`, `/readyz` and `/metrics` on `host:port` (port 0: pick a free one)."""

    def __init__(
        self,
        port: int,
        metrics: Metrics,
        checks: Mapping[str, Check],
        *,
        host: str = "0.0.0.0",
        check_timeout: float = 2.0,
        scrub: Callable[[str], str] | None = None,
        posts: Mapping[str, PostRoute] | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"health port {port} is out of range; set STEADFAST_HEALTH_PORT")
        self._requested = (host, port)
        self.metrics = metrics
        self.checks = dict(checks)
        self.check_timeout = check_timeout
        self.scrub = scrub
        self.posts = dict(posts or {})
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Checks run on their own pool so a hung dependency costs one probe a timeout,
        # not one stuck handler thread per probe for as long as the hang lasts.
        self._pool: ThreadPoolExecutor | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested[1]
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        if self._server is not None:
            return self
        try:
            server = ThreadingHTTPServer(self._requested, _handler_for(self))
        except OSError as exc:
            host, port = self._requested
            raise ConfigError(
                f"cannot serve health endpoints on {host}:{port}: {exc.strerror}; "
                "choose another STEADFAST_HEALTH_PORT"
            ) from exc
        server.daemon_threads = True
        self._server = server
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz-check")
        # A short poll keeps stop() (and so pod shutdown) quick; the wake-ups cost nothing.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.1,), name="health-server", daemon=True
        )
        self._thread.start()
        log.info("health endpoints on %s:%d", self._requested[0], self.port)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """Run every check; returns (ready, {name: "ok" | reason})."""
        pool = self._pool
        if pool is None:
            raise RuntimeError("HealthServer.readiness() needs start() first")
        futures = {name: pool.submit(check) for name, check in self.checks.items()}
        results: dict[str, str] = {}
        for name, future in futures.items():
            try:
                future.result(timeout=self.check_timeout)
                results[name] = "ok"
            except FutureTimeout:
                results[name] = f"no answer within {self.check_timeout:g}s"
            except Exception as exc:  # a check fails by raising anything
                results[name] = describe_failure(exc, self.scrub)
        return all(v == "ok" for v in results.values()), results


def _handler_for(owner: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "steadfast-health"
        sys_version = ""
        timeout = 30  # seconds a client may take to send its request (a POST body included)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._json(HTTPStatus.OK, {"status": "alive"})
            elif path == "/readyz":
                ready, results = owner.readiness()
                if not ready:
                    failed = {k: v for k, v in results.items() if v != "ok"}
                    log.warning("not ready: %s", failed)
                status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
                self._json(status, {"status": "ready" if ready else "not ready", "checks": results})
            elif path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(HTTPStatus.OK, encoder(owner.metrics.registry), content_type)
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": "try /healthz, /readyz or /metrics"})

        def do_POST(self) -> None:
            route = owner.posts.get(self.path.split("?", 1)[0])
            if route is None:
                self.close_connection = True  # the body was not read
                self._json(HTTPStatus.NOT_FOUND, {"error": "no such endpoint"})
                return
            try:
                # `email.message.Message`: read-only and case-insensitive, which is all a route uses
                headers = cast(Mapping[str, str], self.headers)
                reply = route(headers, self.rfile.read)
            except Exception:
                log.exception("POST %s failed", self.path)
                reply = Reply(500, {"error": "internal error; see the bot's log"})
            self.close_connection = True  # the route may have left the body unread
            self._json(HTTPStatus(reply.status), reply.body, reply.headers)

        def _json(
            self, status: HTTPStatus, body: dict[str, Any], headers: Mapping[str, str] = {}
        ) -> None:
            data = (json.dumps(body, sort_keys=True) + "\n").encode()
            self._send(status, data, "application/json", headers)

        def _send(
            self,
            status: HTTPStatus,
            data: bytes,
            content_type: str,
            headers: Mapping[str, str] = {},
        ) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            # Probes arrive every few seconds; keep them out of the INFO log.
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
