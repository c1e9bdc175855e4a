"""The agent's in-memory state for one run: a `History` that follows every event the run
appends, so a step costs the events it adds, not a re-read of the whole log.

`LiveContext` wraps the worker's `JobContext`: each `append` is committed by the wrapped
context first (the durability promise is unchanged: an event is in the store before the action
it announces starts) and only then applied to the history, through the same `History.apply`
that rebuilt it from the log at claim. Resume and live runs therefore share one code path.
"""

from __future__ import annotations

from typing import Any

from bot.agent.history import History
from bot.handler import JobContext
from bot.model import Event, EventKind, Job


class LiveContext:
    """A `JobContext` whose appends also advance `history`."""

    def __init__(self, ctx: JobContext, history: History) -> None:
        self._ctx = ctx
        self.history = history

    @property
    def job(self) -> Job:
        return self._ctx.job

    @property
    def events(self) -> list[Event]:
        return self._ctx.events

    @property
    def worker_name(self) -> str:
        return self._ctx.worker_name

    def append(self, kind: EventKind, data: dict[str, Any] | None = None) -> Event:
        event = self._ctx.append(kind, data)
        # `follow`, not `apply(event)`: it also picks up anything the wrapped context added to
        # the log itself, and costs only the new events
        self.history.follow(self._ctx.events)
        return event

    def append_many(self, items: list[tuple[EventKind, dict[str, Any]]]) -> list[Event]:
        events = self._ctx.append_many(items)
        self.history.follow(self._ctx.events)
        return events

    def checkpoint(self) -> None:
        self._ctx.checkpoint()

    def outbox(self, purpose: str, method: str, payload: dict[str, Any]) -> None:
        self._ctx.outbox(purpose, method, payload)

    def hold_lease(self) -> None:
        self._ctx.hold_lease()
