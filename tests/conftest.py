"""Shared fixtures.

Databases: every test that takes `database_url` runs on SQLite, and also on PostgreSQL when
STEADFAST_TEST_POSTGRES_URL is set (CI sets it). If it is set and PostgreSQL is unreachable the
test fails: CI must never pass by skipping the production database. Each PostgreSQL test gets a
schema of its own (via `search_path` in the URL), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from bot.store import Store

POSTGRES_ENV = "STEADFAST_TEST_POSTGRES_URL"
REPO = Path(__file__).resolve().parent.parent
# What `steadfast show` and the status record promise besides the id and status.
STATUS_RECORD_KEYS = (
    "attempts",
    "tenant",
    "channel",
    "thread_ts",
    "created_at",
    "started_at",
    "finished_at",
    "last_event_at",
    "lease_owner",
    "lease_expires_at",
    "last_error",
    "degraded",
    "verdict",
    "current_step",
    "layer",
    "lease_expired",
    "versions",
)


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


def _postgres_schema_url(base: str) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"{POSTGRES_ENV} is set but PostgreSQL is unreachable: {exc}", pytrace=False)
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for this test (not yet migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'steadfast.db'}"
    else:
        yield from _postgres_schema_url(os.environ[POSTGRES_ENV])


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'steadfast.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """PostgreSQL only (benchmarks-style tests, SKIP LOCKED, LISTEN/NOTIFY)."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} not set")
    yield from _postgres_schema_url(base)


@pytest.fixture
def max_attempts() -> int:
    """The store's attempts per job; a suite overrides it where its tests need more or fewer."""
    return 5


@pytest.fixture
def store(database_url: str, max_attempts: int) -> Iterator[Store]:
    """A migrated store on `database_url`, closed afterwards."""
    s = Store(database_url, max_attempts=max_attempts)
    s.upgrade()
    yield s
    s.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # pytest-xdist hands tests out in this order: slow ones first, so that a long crash test
    # does not start last and keep the run going while the other workers sit idle
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
