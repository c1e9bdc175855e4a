"""SQLite: the append transaction (`Store.append_batch`) on the driver's cursor.

An append is the store's most frequent write: an investigation step makes three or four. On
SQLite, where a statement costs no round trip, SQLAlchemy's per-execution work (execution
context, parameter processing, result setup) cost about eight times the database's own work for
it. Here the same two prebuilt statements (`statements.APPEND_BUMP`, `statements.INSERT_EVENT`)
are compiled once for the engine's dialect and run on a pooled connection's DBAPI cursor, with
each value passed through its column type's own bind processor, so what is stored is exactly
what SQLAlchemy would have stored. The transaction is the same as everywhere else on SQLite:
BEGIN IMMEDIATE, both statements, COMMIT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
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

    def __call__(
        self, bump: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
    ) -> tuple[int, str | None] | None:
        """Bump the fenced job row by len(rows) and insert `rows` (their `seq` is filled in):
        (last seq, pending control), or None when the fence no longer holds."""
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                found = cursor.execute(self._bump.sql, self._bump.params(bump)).fetchone()
                if found is not None:
                    first = found[0] - len(rows) + 1
                    cursor.executemany(
                        self._insert.sql,
                        [self._insert.params({**r, "seq": first + i}) for i, r in enumerate(rows)],
                    )
                cursor.execute("COMMIT")
            except BaseException:
                if raw.driver_connection.in_transaction:  # type: ignore[union-attr]
                    cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()
        finally:
            raw.close()  # back to the pool
        return (int(found[0]), found[1]) if found is not None else None


_EVENT = ("job_id", "seq", "at", "kind", "data")
