"""Health of each configured dependency, for `steadfast doctor` and readiness checks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from core.scrubber import Scrubber
from integrations.errors import IntegrationError

if TYPE_CHECKING:
    from integrations.registry import Integrations


@dataclass(frozen=True)
class Health:
    dependency: str
    healthy: bool
    latency_ms: float | None
    auth: str  # e.g. "approle: token TTL 3540s left", "bearer token", "none"
    detail: str  # "ok", or why it is unhealthy, written for the operator
    degraded: bool = False  # works, but weaker than it should be (`detail` says why)

    @property
    def status(self) -> str:
        if not self.healthy:
            return "unhealthy"
        return "degraded" if self.degraded else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status}


def timed(
    dependency: str, probe: Callable[[], tuple[bool, str, str]], scrubber: Scrubber
) -> Health:
    """Run `probe() -> (healthy, auth, detail)`; any failure becomes an unhealthy `Health`."""
    start = time.perf_counter()
    try:
        healthy, auth, detail = probe()
    except IntegrationError as exc:
        latency = (time.perf_counter() - start) * 1000
        return Health(dependency, False, round(latency, 1), "unknown", scrubber.scrub(str(exc)))
    except Exception as exc:  # health checks report, they never raise
        latency = (time.perf_counter() - start) * 1000
        detail = scrubber.scrub(f"unexpected error: {type(exc).__name__}: {exc}")
        return Health(dependency, False, round(latency, 1), "unknown", detail)
    latency = (time.perf_counter() - start) * 1000
    return Health(
        dependency, healthy, round(latency, 1), scrubber.scrub(auth), scrubber.scrub(detail)
    )


def check_all(integrations: Integrations) -> list[Health]:
    """Every configured dependency's health (what `steadfast doctor` prints)."""
    results: list[Health] = []
    if integrations.vault is not None:
        results.append(integrations.vault.health())
    if integrations.kubernetes is not None:
        results.append(integrations.kubernetes.health())
    results += integrations.http.health()
    results += integrations.logs.health()
    return results
