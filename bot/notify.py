"""How a running job talks to humans. The agent calls a `Notifier`; the Slack implementation
turns each call into fenced outbox rows (bot/slack/), `NullNotifier` serves CLI-only jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.handler import JobContext
from bot.handoff.model import Handoff


@dataclass(frozen=True, slots=True)
class Progress:
    step: int
    layer: str | None = None
    text: str = ""  # e.g. "model API is rate-limiting; retry is safe; backing off 30 s"
    retries: int = 0
    degraded: list[str] = field(default_factory=list)


class Notifier(Protocol):
    def progress(self, ctx: JobContext, progress: Progress) -> None:
        """Update the one status message (implementations throttle)."""
        ...

    def question(self, ctx: JobContext, question: str) -> None:
        """Ask the ticket's thread a question (ask_human / approvals)."""
        ...

    def handoff(self, ctx: JobContext, handoff: Handoff) -> None:
        """Post the handoff; open the on-call thread when the verdict is escalated."""
        ...


class NullNotifier:
    def progress(self, ctx: JobContext, progress: Progress) -> None:
        pass

    def question(self, ctx: JobContext, question: str) -> None:
        pass

    def handoff(self, ctx: JobContext, handoff: Handoff) -> None:
        pass
