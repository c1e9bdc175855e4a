"""A job waiting for a human is reminded about, then escalates with what it has."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot import waits
from bot.errors import NotWaiting
from bot.model import JobStatus, OperatorAction, Ticket
from bot.store import Store
from bot.worker.worker import Worker
from policy.document import Waits
from tests.agent.conftest import make_policy
from tests.worker.conftest import wait_until

pytestmark = pytest.mark.db

WAITS = Waits(remind_after=0.3, give_up_after=1.0)


@pytest.fixture
def running(store: Store, make_kit: Any) -> Iterator[Worker]:
    kit = make_kit(policy=make_policy(waits=WAITS.model_dump()))
    worker = Worker(
        store,
        kit.agent(),
        name="w",
        lease_ttl=10,
        poll=0.05,
        reap_interval=0.05,
        sweep=lambda: waits.sweep(store, WAITS),
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    yield worker
    worker.stop()
    thread.join(30)


def test_reminder_then_give_up_escalates_with_what_it_has(store: Store, running: Worker) -> None:
    job, _ = store.submit(Ticket("which order? scenario:ask-human", channel="C1", ts="1.5"))
    wait_until(lambda: store.get(job.id).status == JobStatus.WAITING_HUMAN, 30, "the job asks")
    question = store.events(job.id, kinds=["human_question"])[0]
    reminder = wait_until(lambda: store.events(job.id, kinds=["wait_reminder"]), 30, "a reminder")[
        0
    ]
    assert reminder.data["ask_seq"] == question.seq
    assert reminder.data["waited_seconds"] >= WAITS.remind_after
    post = wait_until(
        lambda: store.outbox_get(f"{job.id}:reminder:{question.seq}"), 30, "the reminder post"
    )
    assert post.payload["thread_ts"] == "1.5"
    assert "Which order id failed?" in post.payload["text"]

    final = wait_until(
        lambda: (j := store.get(job.id)).status.terminal and j, 30, "the job gives up"
    )
    assert final.status == JobStatus.ESCALATED and final.attempts <= 1
    kinds = [e.kind for e in store.events(job.id)]
    assert kinds.count("wait_reminder") == 1 and kinds.count("wait_expired") == 1
    assert kinds.index("wait_reminder") < kinds.index("wait_expired") < kinds.index("handoff")
    handoff = store.events(job.id, kinds=["handoff"])[0].data
    assert handoff["verdict"] == "escalated"
    assert "nobody answered the question within 1 s" in handoff["summary"]
    # a late answer is refused, not attached to a job that no longer waits
    with pytest.raises(NotWaiting):
        waits.require_wait(store, job.id, "question")
    # an operator's retry goes on without the reply and asks the model anew
    store.operator(job.id, OperatorAction.RETRY, by="U-op", reason="they answered by phone")
    again = wait_until(
        lambda: (j := store.get(job.id)).status.terminal and j, 30, "the retried run ends"
    )
    handoffs = store.events(job.id, kinds=["handoff"])
    assert len(handoffs) == 2, again.status
    # the model answered anew; its "resolved" cites nothing, so the system escalates it
    assert handoffs[1].data["summary"] == "Order looked up."
    assert again.status == JobStatus.ESCALATED


def test_an_answer_in_time_means_no_give_up(store: Store, running: Worker) -> None:
    job, _ = store.submit(Ticket("which order? scenario:ask-human", channel="C1", ts="2.5"))
    wait_until(lambda: store.get(job.id).status == JobStatus.WAITING_HUMAN, 30, "the job asks")
    store.human_event(job.id, "human_answer", {"text": "order 42", "by": "U1"}, requeue=True)
    final = wait_until(lambda: (j := store.get(job.id)).status.terminal and j, 30, "finished")
    assert final.status == JobStatus.SUCCEEDED
    assert not store.events(job.id, kinds=["wait_expired"])
