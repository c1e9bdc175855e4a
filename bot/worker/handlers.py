"""Choosing the `JobHandler` a worker runs, by name (`steadfast worker --handler NAME`)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from bot.errors import ConfigError
from bot.handler import JobHandler
from bot.metrics import Metrics
from bot.notify import Notifier
from bot.settings import Settings
from bot.store import Store
from bot.tracing import Tracing
from bot.worker.scripted import ScriptedHandler
from core.scrubber import Scrubber
from policy.source import PolicySource


class HandlerName(StrEnum):
    """The names `--handler` accepts (the CLI refuses others before opening the database)."""

    agent = "agent"
    scripted = "scripted"


KNOWN = tuple(h.value for h in HandlerName)


def build_handler(
    name: str,
    settings: Settings,
    store: Store,
    policy_loader: PolicySource | None = None,
    notifier: Notifier | None = None,
    metrics: Metrics | None = None,
    *,
    environ: Mapping[str, str],
    scrubber: Scrubber | None = None,
    tracing: Tracing | None = None,
) -> JobHandler:
    """The handler called `name`. Raises ConfigError for a name no handler answers to.
    `environ` is the process environment (for credentials named `env:VAR`)."""
    if name == "scripted":
        return ScriptedHandler()
    if name == "agent":
        from bot.agent.factory import build_agent_for_worker  # the SDKs load only when used

        return build_agent_for_worker(
            settings,
            store,
            policy_loader,
            notifier,
            metrics=metrics,
            environ=environ,
            scrubber=scrubber,
            tracing=tracing,
        )
    raise ConfigError(f"unknown handler {name!r}; choose one of: {', '.join(KNOWN)}")
