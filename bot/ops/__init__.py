"""Operations surface: health/readiness/metrics endpoints and store-backed job metrics."""

from __future__ import annotations

from bot.ops.collector import JobCounts, StoreCollector
from bot.ops.health import Check, HealthServer, describe_failure
from bot.ops.wiring import PingableStore, PolicyFile, PolicyNotLoaded, policy_check, start_health

__all__ = [
    "Check",
    "HealthServer",
    "JobCounts",
    "PingableStore",
    "PolicyFile",
    "PolicyNotLoaded",
    "StoreCollector",
    "describe_failure",
    "policy_check",
    "start_health",
]
