"""Waking idle workers: LISTEN/NOTIFY on PostgreSQL, an in-process event everywhere."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import sqlalchemy as sa

CHANNEL = "steadfast_jobs"


def notify_sql() -> sa.TextClause:
    """Run inside the transaction that makes a job claimable; delivered on commit."""
    return sa.text(f"SELECT pg_notify('{CHANNEL}', '')")


class Wakeup:
    """`wait(timeout)` returns when work may be available or the timeout passes.

    On PostgreSQL each waiting thread keeps its own LISTEN connection, opened on the first wait
    (which returns at once so the caller re-checks for work that arrived before LISTEN began).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._local_event = threading.Event()
        self._conninfo: str | None = None
        if engine.dialect.name == "postgresql":
            self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
        self._tls = threading.local()
        self._conns: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    def poke(self) -> None:
        self._local_event.set()

    def wait(self, timeout: float) -> None:
        if self._local_event.is_set():
            self._local_event.clear()
            return
        if self._conninfo is None:
            if self._local_event.wait(timeout):
                self._local_event.clear()
            return
        conn: psycopg.Connection[Any] | None = getattr(self._tls, "conn", None)
        if conn is None or conn.closed:
            try:
                conn = psycopg.connect(self._conninfo, autocommit=True)
                conn.execute(f"LISTEN {CHANNEL}")
            except psycopg.Error:
                # Fall back to polling; the caller's next claim still works or fails loudly.
                self._local_event.wait(timeout)
                return
            self._tls.conn = conn
            with self._lock:
                self._conns.append(conn)
            return
        try:
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error:
            conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
