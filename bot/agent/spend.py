"""The per-tenant daily budget (`budgets.tenant_daily_usd`): before each model call the agent
asks what the tenant spent since UTC midnight, across every job, and escalates rather than
spend past it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from bot.cost import PriceTable
from bot.model import Event


@runtime_checkable
class SpendSource(Protocol):
    """The part of `Store` the budget reads."""

    def tenant_model_responses(self, tenant: str, since: datetime) -> list[Event]: ...


@dataclass(frozen=True, slots=True)
class OverBudget:
    tenant: str
    spent_usd: float
    limit_usd: float

    def describe(self) -> str:
        return (
            f"tenant {self.tenant} reached its daily budget "
            f"(${self.spent_usd:.2f} of ${self.limit_usd:.2f} today, UTC)"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "tenant": self.tenant,
            "spent_usd": round(self.spent_usd, 6),
            "limit_usd": self.limit_usd,
        }


def over_daily_budget(
    source: SpendSource,
    tenant: str | None,
    limit_usd: float | None,
    prices: PriceTable,
    default_model: str,
    now: datetime | None = None,
) -> OverBudget | None:
    """The overrun, or None when there is no budget, no tenant, or room for another call."""
    if limit_usd is None or tenant is None:
        return None
    now = now or datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    spent = prices.of_events(source.tenant_model_responses(tenant, midnight), default_model).usd
    return OverBudget(tenant, spent, limit_usd) if spent >= limit_usd else None
