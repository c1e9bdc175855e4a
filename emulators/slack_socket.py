"""The Socket Mode side of the Slack emulator: a WebSocket server on 127.0.0.1.

Like Slack: `hello` on connect, every envelope carries an `envelope_id`, the app acks with
`{"envelope_id": ...}`, and envelopes not acked are delivered again on the next connection
(with `retry_attempt` raised). `disconnect()` forces the app off, either politely (a
`disconnect` message, `refresh_requested`) or by closing the socket.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class SocketModeServer:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._conn: ServerConnection | None = None
        self.pending: dict[str, dict[str, Any]] = {}  # envelope_id -> envelope, until acked
        self.acks: dict[str, dict[str, Any]] = {}  # envelope_id -> the app's ack
        self.connections = 0
        self.sent = 0

    @property
    def url(self) -> str:
        assert self._server is not None, "socket server not started"
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/link/?ticket={uuid.uuid4().hex[:8]}"

    def start(self) -> None:
        self._server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="slack-socket-mode", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "connections": self.connections,
                "connected": self._conn is not None,
                "pending": list(self.pending),
                "acked": len(self.acks),
            }

    # --- what tests call ------------------------------------------------------------------
    def send(self, type_: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope (`events_api`, `interactive`, `slash_commands`); returns its id.
        If no app is connected it waits in `pending` for the next connection."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type_,
            "payload": payload,
            "accepts_response_payload": type_ != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        with self._lock:
            self.pending[envelope_id] = envelope
            conn = self._conn
        if conn is not None:
            self._deliver(conn, envelope)
        return envelope_id

    def wait_connected(self, timeout: float = 10.0, *, at_least: int = 1) -> bool:
        with self._lock:
            return self._lock.wait_for(
                lambda: self._conn is not None and self.connections >= at_least, timeout
            )

    def wait_acked(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any] | None:
        with self._lock:
            self._lock.wait_for(lambda: envelope_id in self.acks, timeout)
            return self.acks.get(envelope_id)

    def disconnect(self, *, polite: bool = True) -> None:
        """Force the connected app off: a `disconnect` message, or an abrupt close."""
        with self._lock:
            conn = self._conn
        if conn is None:
            return
        if polite:
            try:
                conn.send(json.dumps({"type": "disconnect", "reason": "refresh_requested"}))
            except ConnectionClosed:
                pass
        conn.close()

    # --- server side ----------------------------------------------------------------------
    def _deliver(self, conn: ServerConnection, envelope: dict[str, Any]) -> None:
        try:
            conn.send(json.dumps(envelope))
            with self._lock:
                self.sent += 1
        except ConnectionClosed:
            pass  # stays pending; redelivered on the next connection

    def _handle(self, conn: ServerConnection) -> None:
        with self._lock:
            self.connections += 1
            self._conn = conn
            self._lock.notify_all()
        conn.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "emulator", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A0STEADY"},
                }
            )
        )
        with self._lock:
            redeliver = list(self.pending.values())
        for envelope in redeliver:
            envelope["retry_attempt"] += 1
            envelope["retry_reason"] = "timeout"
            self._deliver(conn, envelope)
        try:
            for raw in conn:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
                if envelope_id:
                    with self._lock:
                        self.pending.pop(envelope_id, None)
                        self.acks[envelope_id] = message
                        self._lock.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if self._conn is conn:
                    self._conn = None
                self._lock.notify_all()


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll `predicate` until it is true or `timeout` passes (for tests and the demo)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
