"""One call for `steadfast worker` / `steadfast bot` to expose their health and metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from bot.errors import SteadfastError
from bot.metrics import Metrics
from bot.ops.collector import JobCounts, StoreCollector
from bot.ops.health import Check, HealthServer, PostRoute
from bot.settings import Settings
from policy.source import PolicySource


class PingableStore(JobCounts, Protocol):
    def ping(self) -> None: ...


class PolicyFile(PolicySource, Protocol):
    """A `PolicySource` read from a file (`policy.loader.PolicyLoader`): what readiness
    looks at besides the policy itself."""

    path: Path
    loaded: bool
    error: str | None


def policy_check(source: PolicyFile) -> Check:
    """Ready once a valid policy is in force. A later invalid edit keeps the last good policy
    in force, so the pod stays ready; the edit's error is logged by the loader."""

    def check() -> None:
        source.current()  # picks up a changed file (the loader rate-limits re-reads)
        if not source.loaded:
            raise PolicyNotLoaded(f"no valid policy loaded from {source.path}: {source.error}")

    return check


class PolicyNotLoaded(SteadfastError):
    pass


def start_health(
    settings: Settings,
    metrics: Metrics,
    store: PingableStore,
    *,
    policy_loaded: Check,
    extra_checks: dict[str, Check] | None = None,
    host: str = "0.0.0.0",
    scrub: Callable[[str], str] | None = None,
    posts: dict[str, PostRoute] | None = None,
) -> HealthServer | None:
    """Serve /healthz, /readyz, /metrics on `settings.health_port`; None when it is unset.

    `posts` adds POST routes (the bot's alert endpoint when it shares this port).
    Ready means the database answers (`store.ping`) and a policy is loaded (`policy_loaded`
    raises when none is); job gauges are refreshed from the store on every scrape.
    """
    if settings.health_port is None:
        return None
    if settings.db_metrics:  # one process exports the deployment-wide gauges
        StoreCollector(metrics, store).register()
    checks: dict[str, Check] = {"database": store.ping, "policy": policy_loaded}
    checks.update(extra_checks or {})
    return HealthServer(
        settings.health_port, metrics, checks, host=host, scrub=scrub, posts=posts
    ).start()
