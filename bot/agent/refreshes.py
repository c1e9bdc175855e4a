"""Credential refreshes heard from the integrations, routed to the job whose tool call caused
them. Integrations are shared by every job of a worker and know nothing of jobs; each job runs
its tool calls on its own thread, so a thread-local buffer ties a refresh to the call that
triggered it. The step drains the buffer into `token_refreshed` events after each call."""

from __future__ import annotations

import threading


class RefreshEvents:
    def __init__(self) -> None:
        self._local = threading.local()

    def _buffer(self) -> list[tuple[str, str]]:
        buffer: list[tuple[str, str]] | None = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = self._local.buffer = []
        return buffer

    def record(self, dependency: str, what: str) -> None:
        """The `integrations.refresh.RefreshObserver` to pass to the integrations."""
        self._buffer().append((dependency, what))

    def drain(self) -> list[tuple[str, str]]:
        """What this thread heard since the last drain, oldest first."""
        buffer = self._buffer()
        taken = list(buffer)
        buffer.clear()
        return taken
