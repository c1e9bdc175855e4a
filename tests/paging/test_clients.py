"""The pagers' clients against the PagerDuty and Opsgenie emulators, over real HTTP: trigger and
resolve, de-duplication on the job id, and each documented error answer (400/422 refused and
not retried, 401/403 bad key, 429 retried after its Retry-After)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from emulators.opsgenie import OpsgenieEmulator
from emulators.pagerduty import PagerDutyEmulator
from integrations.errors import AuthError, BadRequest, NotConfigured, Unavailable
from integrations.paging import Page
from tests.paging.conftest import OG_KEY, OG_READ_ONLY, PD_KEY, Sleeps, make_pager


def _trigger(service: str, key: str, job: str = "job-1", summary: str = "Escalated") -> Page:
    return Page.from_dict(
        {
            "service": service,
            "key_name": key,
            "action": "trigger",
            "dedup_key": job,
            "event": {
                "payload": {
                    "summary": summary,
                    "source": "steadfast",
                    "severity": "critical",
                    "custom_details": {"summary": "pods crash-loop", "job_id": job},
                }
            },
        }
    )


def _resolve(service: str, key: str, job: str = "job-1") -> Page:
    return Page(service=service, key_name=key, action="resolve", dedup_key=job)  # type: ignore[arg-type]


def test_pagerduty_trigger_twice_pages_once_and_resolve_closes_it(
    pagerduty: PagerDutyEmulator, opsgenie: OpsgenieEmulator
) -> None:
    pager = make_pager(pagerduty, opsgenie)
    answer = pager.send(_trigger("pagerduty", "oncall-pd")).answer
    assert answer == {"status": "success", "message": "Event processed", "dedup_key": "job-1"}
    pager.send(_trigger("pagerduty", "oncall-pd"))  # a resend after an unknown outcome
    [incident] = pagerduty.state()["incidents"]
    assert incident["dedup_key"] == "job-1" and incident["triggers"] == 2
    assert incident["custom_details"] == {"summary": "pods crash-loop", "job_id": "job-1"}
    pager.send(_resolve("pagerduty", "oncall-pd"))
    [incident] = pagerduty.state()["incidents"]
    assert incident["status"] == "resolved"
    actions = [e["event_action"] for e in pagerduty.state()["events"]]
    assert actions == ["trigger", "trigger", "resolve"]


def test_pagerduty_400_invalid_event_is_refused_once_not_retried(
    pagerduty: PagerDutyEmulator, opsgenie: OpsgenieEmulator
) -> None:
    sleeps = Sleeps()
    pager = make_pager(pagerduty, opsgenie, sleeps, short=SecretStr("too-short"))
    with pytest.raises(BadRequest) as refused:
        pager.send(_trigger("pagerduty", "short"))
    assert "invalid event" in str(refused.value) and "routing_key" in str(refused.value)
    assert "too-short" not in str(refused.value)
    assert len(pagerduty.requests) == 1 and sleeps == []
    with pytest.raises(BadRequest):  # a trigger without a summary
        pager.send(_trigger("pagerduty", "oncall-pd", summary=""))
    assert pagerduty.state()["incidents"] == []


def test_pagerduty_429_waits_for_retry_after_then_delivers(
    pagerduty: PagerDutyEmulator, opsgenie: OpsgenieEmulator
) -> None:
    sleeps = Sleeps()
    pager = make_pager(pagerduty, opsgenie, sleeps)
    pagerduty.faults.set("429", retry_after=3, count=1)
    pager.send(_trigger("pagerduty", "oncall-pd"))
    assert sleeps and sleeps[0] >= 3  # Retry-After is the floor of the backoff
    assert len(pagerduty.state()["incidents"]) == 1


def test_pagerduty_429_that_persists_says_when_to_come_back(
    pagerduty: PagerDutyEmulator, opsgenie: OpsgenieEmulator
) -> None:
    pager = make_pager(pagerduty, opsgenie)
    pagerduty.faults.set("429", retry_after=42)
    with pytest.raises(Unavailable) as busy:
        pager.send(_trigger("pagerduty", "oncall-pd"))
    assert busy.value.retry_after == 42 and busy.value.retryable
    assert len(pagerduty.requests) == 3  # the policy's attempts, then the outbox takes over
    assert PD_KEY not in str(busy.value)


def test_opsgenie_create_by_alias_dedups_and_close_by_alias(
    pagerduty: PagerDutyEmulator, opsgenie: OpsgenieEmulator
) -> None:
    pager = make_pager(pagerduty, opsgenie)
    answer = pager.send(_trigger("opsgenie", "oncall-og")).answer
    assert answer["result"] == "Request will be processed" and answer["requestId"]
    pager.send(_trigger("opsgenie", "oncall-og"))
    [alert] = opsgenie.state()["alerts"]
    assert (alert["alias"], alert["count"], alert["priority"]) == ("job-1", 2, "P1")
    assert alert["details"]["summary"] == "pods crash-loop"
    pager.send(_resolve("opsgenie", "oncall-og"))
    [alert] = opsgenie.state()["alerts"]
    assert alert["status"] == "closed"
    close = [r for r in opsgenie.requests if r.path.endswith("/close")]
    assert close[0].path == "/v2/alerts/job-1/close"
    assert close[0].query["identifierType"] == ["alias"]
    assert close[0].headers["authorization"] == f"GenieKey {OG_KEY}"


def test_opsgenie_refusals_are_typed_and_never_show_the_key(
    pagerduty: PagerDutyEmulator, opsgenie: OpsgenieEmulator
) -> None:
    pager = make_pager(
        pagerduty,
        opsgenie,
        wrong=SecretStr("ffffffff-0000-4000-8000-000000000bad"),
        readonly=SecretStr(OG_READ_ONLY),
    )
    with pytest.raises(AuthError) as unknown:
        pager.send(_trigger("opsgenie", "wrong"))
    assert "401" in str(unknown.value) and "0bad" not in str(unknown.value)
    with pytest.raises(AuthError) as forbidden:
        pager.send(_trigger("opsgenie", "readonly"))
    assert "403" in str(forbidden.value)
    with pytest.raises(BadRequest) as unprocessable:
        pager.send(_trigger("opsgenie", "oncall-og", summary=""))
    assert "422" in str(unprocessable.value) and "Message can not be empty" in str(
        unprocessable.value
    )
    with pytest.raises(NotConfigured, match="STEADFAST_PAGING_KEYS"):
        pager.send(_trigger("opsgenie", "nobody-named-this"))
    assert opsgenie.state()["alerts"] == []


def test_opsgenie_429_is_retried_after_its_retry_after(
    pagerduty: PagerDutyEmulator, opsgenie: OpsgenieEmulator
) -> None:
    sleeps = Sleeps()
    pager = make_pager(pagerduty, opsgenie, sleeps)
    opsgenie.faults.set("429", retry_after=2, count=2)
    pager.send(_trigger("opsgenie", "oncall-og"))
    assert len(sleeps) == 2 and min(sleeps) >= 2
    assert len(opsgenie.state()["alerts"]) == 1
