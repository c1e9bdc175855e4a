"""Alembic, configured in code so migrations run from an installed package (no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.errors import MigrationError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Bumped with every new migration; tests check it against Alembic's own head.
HEAD_REVISION = "0004"
_PG_MIGRATION_LOCK = 0x5354_4644  # advisory lock key: concurrent upgrades take turns


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def script_head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate to `revision` in one transaction (SQLite takes the write lock at BEGIN, PostgreSQL
    an advisory lock), so two processes starting on an empty database do not collide."""
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except sa.exc.SQLAlchemyError as exc:
        raise MigrationError(f"database migration failed: {exc.__class__.__name__}: {exc}") from exc
