"""`steadfast doctor`'s paging row: keys present for every pager the policy names, and pages
that failed for good reported."""

from __future__ import annotations

from pydantic import SecretStr

from bot.model import OutboxState, Ticket
from bot.ops.paging import paging_check
from bot.settings import Settings
from bot.store.store import Store
from policy.document import Escalation, PageTarget, Policy, Route


def _policy() -> Policy:
    route = Route(channel="C0ONCALL", pages=[PageTarget(service="pagerduty", key="oncall-pd")])
    return Policy(escalation=Escalation(routes=[route]))


def test_no_paging_route_is_skipped(database_url: str) -> None:
    health = paging_check(Settings(database_url=database_url), Policy())
    assert health.healthy and "skipped" in health.detail


def test_a_pager_without_its_key_is_unhealthy_and_says_how_to_fix_it(database_url: str) -> None:
    health = paging_check(Settings(database_url=database_url), _policy())
    assert not health.healthy
    assert "'oncall-pd'" in health.detail and "STEADFAST_PAGING_KEYS" in health.detail


def test_a_page_that_failed_for_good_is_reported(store: Store, database_url: str) -> None:
    settings = Settings(database_url=database_url, paging_keys={"oncall-pd": SecretStr("k" * 32)})
    health = paging_check(settings, _policy())
    assert health.healthy and not health.degraded and "k" * 32 not in health.detail
    job, _ = store.submit(Ticket(text="checkout is slow"))
    key = f"{job.id}:page:pagerduty:oncall-pd:trigger"
    store.outbox_put(key, "page.trigger", {}, job_id=job.id, purpose="page")
    store.outbox_mark(key, OutboxState.FAILED, error="pagerduty: HTTP 400: invalid event")
    health = paging_check(settings, _policy())
    assert health.healthy and health.degraded
    assert key in health.detail and "invalid event" in health.detail
