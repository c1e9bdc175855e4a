"""The outbox sender's leader lease: one holder, a token that grows at every change of hands,
fenced writes, and takeover once the holder's lease expires or is released."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.errors import LeadershipLost
from bot.model import OutboxState
from bot.store.leases import SENDER
from bot.store.schema import leader_leases
from bot.store.store import Store, utcnow


def _expire(store: Store) -> None:
    """Move the lease's expiry into the past, as a holder that stopped renewing would leave it."""
    with store.engine.begin() as conn:
        conn.execute(sa.update(leader_leases).values(expires_at=utcnow() - timedelta(seconds=1)))


def test_one_holder_at_a_time_and_the_token_grows_on_takeover(store: Store) -> None:
    first = store.leader_acquire(SENDER, "bot-a", ttl=30)
    assert first is not None and first.token == 1
    assert store.leader_acquire(SENDER, "bot-b", ttl=30) is None
    assert store.leader_renew(first, ttl=30).token == 1  # renewing keeps the token
    _expire(store)
    second = store.leader_acquire(SENDER, "bot-b", ttl=30)
    assert second is not None and second.token == 2
    assert store.leader_current(SENDER) == ("bot-b", 2, second.expires_at)
    with pytest.raises(LeadershipLost):
        store.leader_renew(first, ttl=30)


def test_a_sender_that_lost_the_lease_writes_nothing(store: Store) -> None:
    store.outbox_put("k1", "chat.postMessage", {"channel": "C1", "text": "hi"})
    old = store.leader_acquire(SENDER, "bot-a", ttl=30)
    assert old is not None
    store.outbox_mark("k1", OutboxState.SENDING, leader=old)
    _expire(store)
    with pytest.raises(LeadershipLost):  # expired, even before anyone took it
        store.outbox_mark("k1", OutboxState.SENT, ts="1.1", leader=old)
    new = store.leader_acquire(SENDER, "bot-b", ttl=30)
    assert new is not None
    with pytest.raises(LeadershipLost):
        store.outbox_mark("k1", OutboxState.SENT, ts="1.1", leader=old)
    row = store.outbox_get("k1")
    assert row is not None and row.state == OutboxState.SENDING and row.ts is None
    store.outbox_mark("k1", OutboxState.SENT, ts="1.2", leader=new)
    row = store.outbox_get("k1")
    assert row is not None and row.state == OutboxState.SENT and row.ts == "1.2"


def test_release_hands_over_at_once(store: Store) -> None:
    lease = store.leader_acquire(SENDER, "bot-a", ttl=300)
    assert lease is not None
    store.leader_release(lease)
    taken = store.leader_acquire(SENDER, "bot-b", ttl=300)
    assert taken is not None and taken.token == 2
    store.leader_release(lease)  # a stale release changes nothing
    assert store.leader_current(SENDER) == ("bot-b", 2, taken.expires_at)


def test_racing_takers_elect_exactly_one(store: Store) -> None:
    won: list[str] = []
    start = threading.Barrier(8)

    def take(name: str) -> None:
        start.wait()
        if store.leader_acquire(SENDER, name, ttl=30) is not None:
            won.append(name)

    threads = [threading.Thread(target=take, args=(f"bot-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
