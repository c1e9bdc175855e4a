"""The daily budget's query: one tenant's model responses since a moment, across its jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.model import EventKind, Ticket
from bot.store import Store
from bot.store.store import utcnow

pytestmark = [pytest.mark.db]


def test_tenant_model_responses_span_jobs_and_stop_at_the_tenant(store: Store) -> None:
    store.submit(Ticket("a", tenant="acme"))
    store.submit(Ticket("b", tenant="acme"))
    store.submit(Ticket("c", tenant="other"))
    for _ in range(3):
        claimed = store.claim("w", lease_ttl=30)
        assert claimed is not None
        _job, lease = claimed
        store.append(lease, EventKind.MODEL_RESPONSE, {"usage": {"input_tokens": 1}})
        store.append(lease, EventKind.STEP, {"step": 1})
    before = utcnow() - timedelta(minutes=1)
    acme = store.tenant_model_responses("acme", before)
    assert len(acme) == 2 and all(e.kind == EventKind.MODEL_RESPONSE for e in acme)
    assert len(store.tenant_model_responses("other", before)) == 1
    assert store.tenant_model_responses("acme", utcnow() + timedelta(minutes=1)) == []
