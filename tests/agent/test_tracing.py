"""The span tree of an agent run, read from the SDK's in-memory exporter: one trace, a span per
step, model calls with the GenAI attributes, tool calls with their outcome and rule, the gate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot.model import JobStatus
from bot.tracing import Tracing, current_trace_id
from tests.agent.conftest import Kit
from tests.agent.fakes import FakeContext, make_job


@pytest.fixture
def exported() -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracing = Tracing.with_exporter(exporter, service="steadfast-worker")
    yield tracing, exporter
    tracing.shutdown()


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def test_an_agent_run_is_one_trace_with_a_span_per_step_model_call_tool_and_gate(
    make_kit, exported: tuple[Tracing, InMemorySpanExporter]
) -> None:
    tracing, exporter = exported
    kit: Kit = make_kit(tracing=tracing)
    ctx = FakeContext(make_job("checkout is down scenario:ten-step"))
    with tracing.span("job.run") as run_span:
        trace_id = current_trace_id()
        result = kit.agent().run(ctx)
    assert result.status == JobStatus.SUCCEEDED
    spans = list(exporter.get_finished_spans())
    assert trace_id == format(run_span.get_span_context().trace_id, "032x")
    assert {format(s.context.trace_id, "032x") for s in spans if s.context} == {trace_id}

    run = next(s for s in spans if s.name == "job.run")
    steps = children(spans, run)
    assert [s.name for s in steps] == ["agent.step"] * 10
    assert [s.attributes["steadfast.step"] for s in steps] == list(range(1, 11))

    chats = [c for step in steps for c in children(spans, step) if c.name.startswith("chat ")]
    assert len(chats) == 10  # one model call per step, inside its step
    first = chats[0].attributes
    assert first["gen_ai.system"] == "anthropic"
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.request.model"] == "claude-sonnet-5-5"
    assert first["gen_ai.usage.input_tokens"] > 0 and first["gen_ai.usage.output_tokens"] > 0
    usage = ctx.of("model_response")[0].data["usage"]
    assert first["gen_ai.usage.cache_read.input_tokens"] == usage["cache_read_input_tokens"]
    assert first["gen_ai.usage.cache_creation.input_tokens"] == usage["cache_creation_input_tokens"]
    assert chats[-1].attributes["gen_ai.response.finish_reasons"] == ("tool_use",)

    tools = [
        t for step in steps for t in children(spans, step) if t.name.startswith("execute_tool")
    ]
    called = [e.data["name"] for e in ctx.of("tool_call") if e.data["name"] != "submit_handoff"]
    assert [t.attributes["gen_ai.tool.name"] for t in tools] == called
    blocked = [t for t in tools if t.attributes["steadfast.tool.outcome"] == "blocked"]
    assert len(blocked) == 1  # the kubectl delete the gate refused
    assert blocked[0].attributes["steadfast.tool.rule"] == ctx.of("tool_blocked")[0].data["rule"]
    gates = [g for t in tools for g in children(spans, t) if g.name == "gate.decide"]
    assert len(gates) == len(
        [t for t in tools if t.attributes["gen_ai.tool.name"] == "run_command"]
    )
    assert sorted(g.attributes["steadfast.gate.allowed"] for g in gates)[0] is False
    assert all("hunter2secret" not in str(s.attributes) for s in spans)


def test_tracing_off_records_nothing_and_has_no_trace_id(kit: Kit) -> None:
    tracing = Tracing.disabled()
    with tracing.span("job.run") as span:
        assert not span.is_recording()
        assert current_trace_id() is None and tracing.traceparent() is None
        result = kit.agent().run(FakeContext(make_job("scenario:ten-step")))
    assert result.status == JobStatus.SUCCEEDED
