"""SQLite: the append transaction (`Store.append_batch`) on the driver's cursor.

An append is the store's most frequent write: an investigation step makes three or four. On
SQLite, where a statement costs no round trip, SQLAlchemy's per-execution work (execution
context, parameter processing, result setup) cost about eight times the database's own work for
it. Here the same two prebuilt statements (`statements.APPEND_BUMP`, `statements.INSERT_EVENT`)
are compiled once for the engine's dialect and run on a pooled connection's DBAPI cursor, with
each value passed through its column type's own bind processor, so what is stored is exactly
what SQLAlchemy would have stored. The transaction is the same as everywhere else on SQLite:
BEGIN IMMEDIATE, both statements, COMMIT. Appends keep one pooled connection for themselves:
the store's writer lock serialises them, and a checkout and return per append cost as much as
the statements.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler

from bot.store import statements


class _Prepared:
    """One statement compiled for `dialect`: its SQL and, per positional parameter, the name
    it is bound from (or the constant the statement holds), and the type's bind processor."""

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = str(compiled)
        self._binds: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup or []:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self._binds.append((name, bind.effective_value, process))

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, constant, process in self._binds:
            value = values[name] if name in values else constant
            out.append(process(value) if process is not None else value)
        return tuple(out)


class SqliteAppend:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._bump = _Prepared(statements.APPEND_BUMP, engine.dialect)
        insert = statements.INSERT_EVENT.values(
            {c: sa.bindparam(c, type_=statements.INSERT_EVENT.table.c[c].type) for c in _EVENT}
        )
        self._insert = _Prepared(insert, engine.dialect)
        self._raw: PoolProxiedConnection | None = None

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def __call__(
        self, bump: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
    ) -> tuple[int, str | None] | None:
        """Bump the fenced job row by len(rows) and insert `rows` (their `seq` is filled in):
        (last seq, pending control), or None when the fence no longer holds."""
        if self._raw is None:
            self._raw = self._engine.raw_connection()
        raw = self._raw
        cursor = raw.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            found = cursor.execute(self._bump.sql, self._bump.params(bump)).fetchone()
            if found is not None:
                first = found[0] - len(rows) + 1
                cursor.executemany(
                    self._insert.sql,
                    [self._insert.params({**r, "seq": first + i}) for i, r in enumerate(rows)],
                )
            cursor.execute("COMMIT")
        except BaseException:
            # a connection in an unknown state is not kept: the next append opens another
            self._raw = None
            with suppress(sqlite3.Error):
                cursor.close()
            raw.invalidate()
            raise
        cursor.close()
        return (int(found[0]), found[1]) if found is not None else None


_EVENT = ("job_id", "seq", "at", "kind", "data")
