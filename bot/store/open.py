"""Opening the store from Settings: what the CLI, workers and the bot all do at start-up."""

from __future__ import annotations

from bot.errors import MigrationError
from bot.settings import Settings
from bot.store.migrate import HEAD_REVISION
from bot.store.store import Store


def open_store(settings: Settings, *, pool_size: int | None = None) -> Store:
    """A `Store` whose schema is at head.

    SQLite (one machine, embedded) is migrated here automatically. PostgreSQL is shared by many
    replicas, so its schema moves only by `steadfast db upgrade` (a deploy step); a database
    that is behind is a clear error instead of a surprise migration from some worker.
    """
    size = pool_size or max(5, settings.concurrency + 3)
    store = Store(settings.database_url, max_attempts=settings.max_attempts, pool_size=size)
    try:
        revision = store.revision()
        if revision == HEAD_REVISION:
            return store
        if not store.is_postgres:
            store.upgrade()
            return store
        raise MigrationError(
            f"the PostgreSQL schema is at revision {revision or 'none (empty)'}, this version "
            f"needs {HEAD_REVISION}: run `steadfast db upgrade` first"
        )
    except BaseException:
        store.close()
        raise
