"""Engines with the pragmas and transaction modes the store relies on."""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import ConnectionPoolEntry
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from bot.errors import ConfigError, StoreError
from core import jsontext

READ_ONLY = "steadfast_read_only"  # execution option: SQLite reads use a deferred BEGIN


def _json_dumps(value: Any) -> str:
    try:
        return jsontext.dumps(value).decode()
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"data to store must be JSON (str, number, bool, list, dict): {exc}"
        ) from exc


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _switch_to_wal(cur: sqlite3.Cursor) -> None:
    # WAL is a property of the file, set once by whoever creates it. SQLite does not call the
    # busy handler for a journal-mode change, so processes opening a brand-new file together
    # see "database is locked" at once; they retry until the first one has switched it.
    for attempt in Retrying(
        retry=retry_if_exception(_locked),
        wait=wait_random_exponential(multiplier=0.01, max=0.5),
        stop=stop_after_delay(30),
        reraise=True,
    ):
        with attempt:
            cur.execute("PRAGMA journal_mode=WAL")


def make_engine(url: str, *, pool_size: int = 10) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            f"STEADFAST_DATABASE_URL {url!r} is not a database URL; expected "
            "sqlite:///path.db or postgresql+psycopg://user@host:5432/db"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, pool_size)
    if backend in ("postgresql", "postgres"):
        # postgres:// and postgresql:// (what Heroku, RDS consoles and libpq print) and any
        # other driver name all mean psycopg 3, the one PostgreSQL driver installed
        if parsed.drivername != "postgresql+psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            # No pre-ping: it is a round trip per transaction on the hot path. A connection
            # broken by a server restart is invalidated on first use and the caller's retry
            # (claim loop, heartbeat) gets a fresh one.
            json_serializer=_json_dumps,
        )
    raise ConfigError(
        f"unsupported database {backend!r} in STEADFAST_DATABASE_URL; use sqlite or postgresql"
    )


def _sqlite_engine(url: str, pool_size: int) -> sa.Engine:
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"check_same_thread": False, "timeout": 30},
        json_serializer=_json_dumps,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE is ours to issue
        # (SQLAlchemy's documented recipe for pysqlite).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        # WAL + synchronous=NORMAL: a committed transaction survives the process being killed
        # (SIGKILL, OOM), which is our failure model; only an OS crash/power loss can lose the
        # last commits. See docs/architecture.md.
        _switch_to_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers take the database write lock up front: no lock upgrade deadlocks, and a claim
        # is a single-writer transaction.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
