"""Serving the alert endpoint from `steadfast bot` / `steadfast run` (either Slack mode): on
the health port, or on `STEADFAST_ALERTS_PORT` when that is set."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from bot.alerts.endpoint import PATH, AlertEndpoint
from bot.alerts.intake import AlertIntake
from bot.errors import ConfigError
from bot.metrics import Metrics
from bot.ops.health import HealthServer, PostRoute
from bot.settings import Settings
from bot.store.store import Store
from bot.tracing import Tracing
from core.scrubber import Scrubber
from policy.source import PolicySource


def settings_scrubber(settings: Settings) -> Scrubber:
    """A scrubber that knows every credential in the settings (alert text is scrubbed with it
    before it is stored: a label may carry a token)."""
    scrubber = Scrubber()
    for name, value in settings:
        if isinstance(value, SecretStr):
            scrubber.register(name, value.get_secret_value())
    return scrubber


def alert_posts(
    settings: Settings,
    store: Store,
    policy: PolicySource,
    *,
    scrub: Callable[[str], str],
    metrics: Metrics | None = None,
    on_outbox: Callable[[], None] = lambda: None,
    tracing: Tracing | None = None,
) -> dict[str, PostRoute]:
    """`{"/alerts/alertmanager": endpoint}`, or nothing when no token is configured: the
    endpoint is never served without authentication."""
    if settings.alerts_token is None:
        return {}
    if settings.alerts_port is None and settings.health_port is None:
        raise ConfigError(
            "STEADFAST_ALERTS_TOKEN is set but the alert endpoint has no port: set "
            "STEADFAST_ALERTS_PORT or STEADFAST_HEALTH_PORT"
        )
    intake = AlertIntake(
        store, policy, scrub=scrub, metrics=metrics, on_outbox=on_outbox, tracing=tracing
    )
    endpoint = AlertEndpoint(
        intake,
        token=settings.alerts_token,
        username=settings.alerts_username,
        max_body_bytes=settings.alerts_max_body_bytes,
        metrics=metrics,
    )
    return {PATH: endpoint}


def separate_alert_server(
    settings: Settings,
    metrics: Metrics,
    posts: dict[str, PostRoute],
    *,
    host: str = "0.0.0.0",
) -> HealthServer | None:
    """A server of its own for the endpoint when `STEADFAST_ALERTS_PORT` differs from the
    health port (None: the health server carries it)."""
    port = settings.alerts_port
    if not posts or port is None or port == settings.health_port:
        return None
    return HealthServer(port, metrics, {}, host=host, posts=posts).start()
