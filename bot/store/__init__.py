"""The durable store: jobs, the append-only event log, the outbox, operator audit."""

from bot.store.open import open_store
from bot.store.store import Store

__all__ = ["Store", "open_store"]
