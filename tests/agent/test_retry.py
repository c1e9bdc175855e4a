"""An operator's retry of a finished job is a new run that asks the model again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.model import JobStatus, OperatorAction, Ticket
from bot.store import Store
from bot.worker.worker import Worker
from emulators.anthropic import AnthropicEmulator
from tests.agent.conftest import make_policy

pytestmark = pytest.mark.db

ESCALATE = {
    "verdict": "escalate",
    "summary": "Cannot tell why checkout fails.",
    "could_not_reach": [],
    "confidence": 0.2,
}
CONCLUDE = {
    "verdict": "inconclusive",
    "summary": "Pods look healthy now.",
    "confidence": 0.5,
}
SCENARIO: dict[str, Any] = {
    "anthropic": {
        "scripts": [
            {
                "name": "retry-run",
                "match": "scenario:retry-run",
                "steps": [
                    {"text": "Not enough to go on.", "tool": "submit_handoff", "input": ESCALATE},
                    {
                        "text": "Look again.",
                        "tool": "k8s_list",
                        "input": {"resource": "pods", "namespace": "shop"},
                    },
                    {"text": "Done.", "tool": "submit_handoff", "input": CONCLUDE},
                ],
            }
        ]
    }
}


@pytest.fixture
def emu() -> Iterator[AnthropicEmulator]:
    with AnthropicEmulator(SCENARIO) as e:
        yield e  # type: ignore[misc]


def _drain(store: Store, kit: Any) -> None:
    Worker(store, kit.agent(), name="w", lease_ttl=10).run(until_idle=True)


def test_retry_of_an_escalated_job_asks_the_model_again_from_the_evidence(
    store: Store, emu: AnthropicEmulator, make_kit: Any
) -> None:
    kit = make_kit(policy=make_policy(layers=[]), emu=emu)
    job, _ = store.submit(Ticket("checkout fails scenario:retry-run", channel="C1"))
    _drain(store, kit)
    first = store.get(job.id)
    assert first.status == JobStatus.ESCALATED
    assert emu.job_state(job.id)["requests"] == 1

    store.operator(job.id, OperatorAction.RETRY, by="U-op", reason="vault is back")
    _drain(store, kit)
    events = store.events(job.id)
    retry = next(e for e in events if e.kind == "operator_action")
    assert (retry.data["by"], retry.data["reason"]) == ("U-op", "vault is back")
    after = [e for e in events if e.seq > retry.seq]
    kinds = [e.kind for e in after]
    # the old submit_handoff call is answered with the operator's request, then the model
    # is asked anew (two new turns: a tool call and a new handoff)
    assert kinds.count("model_request") == 2 and kinds.count("handoff") == 1
    note = next(e for e in after if e.kind == "tool_result" and e.data.get("retry"))
    assert "vault is back" in note.data["content"] and "Cannot tell" in note.data["content"]
    assert emu.job_state(job.id) == {"requests": 3, "repeated": 0}
    final = store.get(job.id)
    assert final.status == JobStatus.SUCCEEDED and final.verdict == "inconclusive"
    # the model saw the old evidence and the retry note in its conversation
    last = [r.json() for r in emu.requests if r.json()["metadata"]["user_id"] == job.id][-1]
    assert "Cannot tell why checkout fails" in str(last["messages"])


def test_retry_from_start_discards_the_old_steps(
    store: Store, emu: AnthropicEmulator, make_kit: Any
) -> None:
    kit = make_kit(policy=make_policy(layers=[]), emu=emu)
    job, _ = store.submit(Ticket("checkout fails scenario:retry-run", channel="C1"))
    _drain(store, kit)
    store.operator(job.id, OperatorAction.RETRY, by="U-op", reason="start over", from_start=True)
    _drain(store, kit)
    events = store.events(job.id)
    retry = next(e for e in events if e.kind == "operator_action")
    assert retry.data["from_start"] is True
    after = [e for e in events if e.seq > retry.seq]
    requests = [e for e in after if e.kind == "model_request"]
    assert [r.data["step"] for r in requests] == [1]  # the conversation began again
    assert [e.kind for e in after].count("handoff") == 1
    mine = [r.json() for r in emu.requests if r.json()["metadata"]["user_id"] == job.id]
    assert len(mine) == 2 and mine[1]["messages"] == mine[0]["messages"]
    assert store.get(job.id).status == JobStatus.ESCALATED


def test_from_start_is_only_for_retry(store: Store) -> None:
    from bot.errors import IllegalTransition

    job, _ = store.submit(Ticket("x"))
    with pytest.raises(IllegalTransition, match="from-start"):
        store.operator(job.id, OperatorAction.PAUSE, by="u", reason="r", from_start=True)
