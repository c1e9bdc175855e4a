"""What a model call costs: tokens times the price table in settings.

Prices are US dollars per million tokens, with cache reads and cache writes priced apart from
plain input (they differ by an order of magnitude). A model is priced by the longest table key
it starts with, so `claude-sonnet-4-5-20250929` finds `claude-sonnet`; an unknown model costs
nothing and says so (`PriceTable.known`), rather than guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from bot.model import Event, EventKind

MILLION = 1_000_000


class ModelPrice(BaseModel):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_read: float = Field(ge=0)
    cache_write: float = Field(ge=0)


# List prices of the Claude families (USD / Mtok); override with STEADFAST_MODEL_PRICES.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-opus": ModelPrice(input=5.0, output=25.0, cache_read=0.5, cache_write=6.25),
    "claude-sonnet": ModelPrice(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75),
    "claude-haiku": ModelPrice(input=1.0, output=5.0, cache_read=0.1, cache_write=1.25),
}


@dataclass(frozen=True, slots=True)
class Cost:
    usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    unpriced_calls: int = 0  # calls to a model the table does not know

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.usd + other.usd,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.unpriced_calls + other.unpriced_calls,
        )

    def line(self) -> str:
        """The one line handoffs, `show` and the demo print."""
        text = (
            f"Cost ${self.usd:.4f} · {self.input_tokens} in, {self.output_tokens} out, "
            f"{self.cache_read_tokens} cache read, {self.cache_write_tokens} cache write tokens"
        )
        if self.unpriced_calls:
            text += f" · {self.unpriced_calls} call(s) to an unpriced model not counted"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "usd": round(self.usd, 6),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "unpriced_calls": self.unpriced_calls,
        }


class PriceTable:
    def __init__(self, prices: Mapping[str, ModelPrice] | None = None) -> None:
        self._prices = dict(DEFAULT_PRICES if prices is None else prices)

    def price(self, model: str) -> ModelPrice | None:
        # Bedrock names the same models `anthropic.claude-...-v1:0`, inference profiles add a
        # geography (`us.anthropic.claude-...`); Vertex's `claude-...@date` already fits
        if model not in self._prices and "anthropic." in model:
            model = model.split("anthropic.", 1)[1]
        keys = [k for k in self._prices if model.startswith(k)]
        return self._prices[max(keys, key=len)] if keys else None

    def known(self, model: str) -> bool:
        return self.price(model) is not None

    def cost(self, model: str, usage: Mapping[str, Any]) -> Cost:
        """The cost of one response, from the API's `usage` object."""

        def n(key: str) -> int:
            return int(usage.get(key) or 0)

        tokens = (
            n("input_tokens"),
            n("output_tokens"),
            n("cache_read_input_tokens"),
            n("cache_creation_input_tokens"),
        )
        price = self.price(model)
        if price is None:
            return Cost(0.0, *tokens, unpriced_calls=1)
        rates = (price.input, price.output, price.cache_read, price.cache_write)
        usd = sum(t * r for t, r in zip(tokens, rates, strict=True)) / MILLION
        return Cost(usd, *tokens)

    def of_events(self, events: Iterable[Event], default_model: str) -> Cost:
        """A job's cost so far: every recorded model response. Responses recorded before they
        named their model are priced as `default_model`."""
        total = Cost()
        for event in events:
            if event.kind == EventKind.MODEL_RESPONSE and event.data.get("usage"):
                model = str(event.data.get("model") or default_model)
                total += self.cost(model, event.data["usage"])
        return total
