"""Tokens become money from the price table; the handoff, `show` and metrics carry it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.cost import DEFAULT_PRICES, ModelPrice, PriceTable
from bot.handoff.model import Handoff
from bot.handoff.render_slack import handoff_footer
from bot.handoff.render_text import render_text
from bot.model import Event, EventKind, JobStatus
from bot.settings import Settings
from tests.agent.conftest import Kit, make_policy
from tests.agent.fakes import FakeContext, make_job


def _response(seq: int, usage: dict[str, int], model: str | None = None) -> Event:
    data: dict[str, object] = {"step": seq, "usage": usage}
    if model:
        data["model"] = model
    return Event(
        job_id="j1", seq=seq, kind=EventKind.MODEL_RESPONSE, data=data, at=datetime.now(UTC)
    )


def test_cache_reads_and_writes_are_priced_apart() -> None:
    table = PriceTable({"m": ModelPrice(input=3, output=15, cache_read=0.3, cache_write=3.75)})
    cost = table.cost(
        "m-2026",
        {
            "input_tokens": 1_000_000,
            "output_tokens": 100_000,
            "cache_read_input_tokens": 2_000_000,
            "cache_creation_input_tokens": 400_000,
        },
    )
    assert cost.usd == pytest.approx(3 + 1.5 + 0.6 + 1.5)
    assert (cost.cache_read_tokens, cost.cache_write_tokens) == (2_000_000, 400_000)


def test_longest_prefix_wins_and_unknown_models_are_counted_not_guessed() -> None:
    table = PriceTable(
        {
            "claude": ModelPrice(input=1, output=1, cache_read=1, cache_write=1),
            "claude-opus": ModelPrice(input=10, output=10, cache_read=10, cache_write=10),
        }
    )
    assert table.cost("claude-opus-5", {"input_tokens": 1_000_000}).usd == 10
    unknown = table.cost("gpt-x", {"input_tokens": 5})
    assert unknown.usd == 0 and unknown.unpriced_calls == 1
    assert "unpriced" in unknown.line()


def test_job_cost_sums_responses_and_prices_unnamed_ones_as_the_default_model() -> None:
    events = [
        _response(1, {"input_tokens": 1_000_000}),
        _response(2, {"output_tokens": 1_000_000}, model="claude-haiku-4-5"),
    ]
    cost = PriceTable().of_events(events, "claude-sonnet-5-5")
    sonnet, haiku = DEFAULT_PRICES["claude-sonnet"], DEFAULT_PRICES["claude-haiku"]
    assert cost.usd == pytest.approx(sonnet.input + haiku.output)


def test_price_table_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "STEADFAST_MODEL_PRICES",
        '{"claude-sonnet": {"input": 1, "output": 2, "cache_read": 0.1, "cache_write": 1.5}}',
    )
    prices = PriceTable(Settings().model_prices)
    assert prices.cost("claude-sonnet-5-5", {"output_tokens": 1_000_000}).usd == 2
    monkeypatch.setenv("STEADFAST_MODEL_PRICES", '{"m": {"input": -1}}')
    with pytest.raises(ValueError):
        Settings()


def test_handoff_footer_and_text_show_the_cost() -> None:
    handoff = Handoff(job_id="j1", verdict="resolved", summary="ok", cost_usd=0.01234)
    footer = handoff_footer(handoff, feedback=False)
    assert "cost $0.0123" in footer[0]["elements"][0]["text"]
    assert "Cost: $0.0123" in render_text(handoff)
    assert (
        "cost"
        not in handoff_footer(Handoff(job_id="j", verdict="resolved", summary="s"))[0]["elements"][
            0
        ]["text"]
    )


class _Spent:
    """A `SpendSource` holding the tenant's earlier responses today."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.asked: list[tuple[str, datetime]] = []

    def tenant_model_responses(self, tenant: str, since: datetime) -> list[Event]:
        self.asked.append((tenant, since))
        return self.events


def test_daily_budget_escalates_instead_of_calling_the_model(kit: Kit) -> None:
    kit.policy = make_policy(budgets={"tenant_daily_usd": 1.0})
    agent = kit.agent()
    agent.spend = _Spent([_response(1, {"output_tokens": 100_000}, model="claude-sonnet-5-5")])
    job = make_job("checkout is down scenario:ten-step")
    ctx = FakeContext(replace(job, ticket=replace(job.ticket, tenant="acme")))
    result = agent.run(ctx)
    assert result.status == JobStatus.ESCALATED
    assert not ctx.of("model_request")  # $1.50 already spent today: no call at all
    (over,) = ctx.of(EventKind.BUDGET_EXCEEDED)
    assert over.data == {"tenant": "acme", "spent_usd": 1.5, "limit_usd": 1.0}
    handoff = Handoff.model_validate(ctx.of("handoff")[-1].data)
    assert handoff.verdict == "escalated" and "daily budget" in handoff.summary
    tenant, since = agent.spend.asked[0]
    assert tenant == "acme" and (since.hour, since.minute) == (0, 0)


def test_under_budget_the_run_goes_on_and_the_handoff_carries_its_cost(kit: Kit) -> None:
    kit.policy = make_policy(budgets={"tenant_daily_usd": 100.0})
    agent = kit.agent()
    agent.spend = _Spent([])
    job = make_job("checkout is down scenario:ten-step")
    ctx = FakeContext(replace(job, ticket=replace(job.ticket, tenant="acme")))
    agent.run(ctx)
    assert not ctx.of(EventKind.BUDGET_EXCEEDED) and ctx.of("model_request")
    handoff = Handoff.model_validate(ctx.of("handoff")[-1].data)
    expected = PriceTable().of_events(ctx.events, "claude-sonnet-5-5").usd
    assert handoff.cost_usd is not None and handoff.cost_usd == pytest.approx(expected, abs=1e-6)
    assert handoff.cost_usd > 0
