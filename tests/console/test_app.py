"""The console over HTTP on loopback: what a job page shows, what each token may open, and the
headers every response carries."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest

from bot.console.tokens import Grant
from bot.model import EventKind, Ticket
from tests.console.conftest import VAULT_TOKEN, Console, investigate, start_job

pytestmark = pytest.mark.db


def get(console: Console, path: str, **params: str) -> httpx.Response:
    return httpx.get(console.url + path, params=params, timeout=30)


def test_job_page_shows_the_handoff_with_evidence_links_and_the_timeline(
    console: Console,
) -> None:
    job_id, lease = start_job(console.store, "instance i-123 for tenant acme is in ERROR")
    investigate(console.store, lease)
    token = console.signer.job_token(job_id, "acme", 60)
    page = get(console, f"/jobs/{job_id}", t=token)
    assert page.status_code == 200, page.text
    html = page.text
    assert "instance i-123 for tenant acme is in ERROR" in html
    assert "Escalated to on-call" in html
    # the confirmed fact links to the step it was read from, and that anchor exists
    assert 'href="#call-toolu_01"' in html and 'id="call-toolu_01"' in html
    for text in (
        "The database is up (cited nothing)",  # not verified, with why
        "vault: timed out after 1 s",  # could not reach
        "The acme database itself is up",  # assumption
        "Rotate auth-api&#39;s database credential",  # next action, escaped
        "forbidden.verb",  # the blocked command's rule, reason and hint
        "kubectl delete changes cluster state and this agent is read-only",
        "inspect with kubectl get or kubectl describe instead",
        "429 Too Many Requests",  # the retry's cause
        "intervention benefit",
        "claude-sonnet-5-5",
        "Cost $",
        "<details",  # the long tool output starts collapsed
    ):
        assert text in html, text
    assert VAULT_TOKEN not in html  # the scrubber runs on every rendered string


def test_every_response_carries_the_security_headers(console: Console) -> None:
    job_id, _ = start_job(console.store, "headers")
    token = console.signer.job_token(job_id, "acme", 60)
    for response in (
        get(console, f"/jobs/{job_id}", t=token),
        get(console, f"/jobs/{job_id}", t="nope"),
        get(console, "/static/console.js"),
        get(console, "/nowhere"),
    ):
        h = response.headers
        assert h["content-security-policy"].startswith("default-src 'self'")
        assert "unsafe-inline" not in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert h["x-content-type-options"] == "nosniff"
    assert get(console, f"/jobs/{job_id}", t=token).headers["cache-control"] == "no-store"


def test_pages_have_no_inline_script_or_style(console: Console) -> None:
    job_id, lease = start_job(console.store, "no inline")
    investigate(console.store, lease)
    html = get(console, f"/jobs/{job_id}", t=console.signer.job_token(job_id, "acme", 60)).text
    assert "<script>" not in html and "<script " not in html.replace('<script src="', "")
    assert "style=" not in html and "<style" not in html and "onclick" not in html


def test_refusals_are_403_and_logged_without_the_token(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    job_id, _ = start_job(console.store, "for acme")
    other_id, _ = start_job(console.store, "for globex", tenant="globex")
    good = console.signer.job_token(job_id, "acme", 60)
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    expired = console.signer.sign(Grant("job", "acme", job_id, int(time.time()) - 1))
    globex_list = console.signer.tenant_token("globex", 60)
    cases = {
        "tampered": (f"/jobs/{job_id}", tampered),
        "expired": (f"/jobs/{job_id}", expired),
        "another job": (f"/jobs/{other_id}", good),
        "another tenant": (f"/jobs/{job_id}", globex_list),
        "events of another job": (f"/jobs/{other_id}/events", good),
        "a job link for the list": ("/", good),
        "a job link for the playground": ("/policy", good),
        "no token": (f"/jobs/{job_id}", ""),
    }
    with caplog.at_level(logging.WARNING, logger="bot.console.app"):
        for why, (path, token) in cases.items():
            response = get(console, path, t=token)
            assert response.status_code == 403, why
            assert "has expired" in response.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged.count("403") == len(cases)
    for _, token in cases.values():
        if token:
            assert token not in logged and token.split(".")[1] not in logged
    assert get(console, f"/jobs/{job_id}", t=globex_list).status_code == 403
    assert get(console, f"/jobs/{other_id}", t=globex_list).status_code == 200


def test_the_poller_gets_only_new_entries_and_the_status(console: Console) -> None:
    job_id, lease = start_job(console.store, "live")
    token = console.signer.job_token(job_id, "acme", 60)
    first = get(console, f"/jobs/{job_id}/events", t=token, after="0").json()
    assert first["status"] == "running" and not first["terminal"]
    last = first["last"]
    console.store.append(lease, EventKind.ASSUMPTION, {"text": "a new assumption"})
    update = get(console, f"/jobs/{job_id}/events", t=token, after=str(last)).json()
    assert update["last"] == last + 1
    assert f'id="e-{last + 1}"' in update["html"] and "a new assumption" in update["html"]
    assert f'id="e-{last}"' not in update["html"]


def test_the_list_is_per_tenant_with_filters_and_search(console: Console) -> None:
    done, lease = start_job(console.store, "instance i-123 is in ERROR")
    investigate(console.store, lease)
    foreign, _ = start_job(console.store, "instance i-123 of globex", tenant="globex")
    queued, _ = console.store.submit(Ticket(text="login 100% broken", tenant="acme"))
    token = console.signer.tenant_token("acme", 60)
    html = get(console, "/", t=token).text
    assert done in html and queued.id in html and foreign not in html
    only_escalated = get(console, "/", t=token, verdict="escalated").text
    assert done in only_escalated and queued.id not in only_escalated
    queued_only = get(console, "/", t=token, status="queued").text
    assert queued.id in queued_only and done not in queued_only
    assert done in get(console, "/", t=token, q="I-123").text  # case-insensitive
    literal = get(console, "/", t=token, q="100%").text  # % is a literal, not a wildcard
    assert queued.id in literal and done not in literal
    # a list link opens the tenant's jobs, not others'
    assert get(console, f"/jobs/{done}", t=token).status_code == 200
    assert get(console, f"/jobs/{foreign}", t=token).status_code == 403


def test_the_playground_answers_as_policy_explain(console: Console) -> None:
    token = console.signer.tenant_token("acme", 60)
    denied = get(console, "/policy", t=token, command="kubectl delete pod x -n acme-prod").text
    assert "DENIED" in denied and "read-only" in denied
    allowed = get(console, "/policy", t=token, command="kubectl get pods -n acme-prod").text
    assert "ALLOWED" in allowed and json.dumps("get").strip('"') in allowed


def test_no_route_changes_anything(console: Console) -> None:
    job_id, _ = start_job(console.store, "read-only")
    token = console.signer.job_token(job_id, "acme", 60)
    before = console.store.events(job_id)
    response = httpx.post(f"{console.url}/jobs/{job_id}", params={"t": token}, timeout=30)
    assert response.status_code == 405
    assert console.store.events(job_id) == before


def test_links_carry_a_token_the_console_accepts(console: Console) -> None:
    job_id, _ = start_job(console.store, "links")
    url = console.links.job_url(job_id, "acme")
    assert url.startswith(f"{console.url}/jobs/{job_id}?t=")
    assert httpx.get(url, timeout=30).status_code == 200
    assert httpx.get(console.links.tenant_url("acme"), timeout=30).status_code == 200


def test_a_call_repeated_after_a_crash_keeps_one_anchor(console: Console) -> None:
    """The step in flight at a crash is repeated: its tool_call is recorded twice, and the
    facts' links must still have one target."""
    job_id, lease = start_job(console.store, "repeated")
    call = {"tool_use_id": "toolu_9", "name": "k8s_list", "input": {"resource": "pods"}}
    console.store.append(lease, EventKind.TOOL_CALL, call)
    second = console.store.append(lease, EventKind.TOOL_CALL, call)
    token = console.signer.job_token(job_id, "acme", 60)
    assert get(console, f"/jobs/{job_id}", t=token).text.count('id="call-toolu_9"') == 1
    console.store.append(lease, EventKind.TOOL_CALL, call)
    update = get(console, f"/jobs/{job_id}/events", t=token, after=str(second.seq)).json()
    assert update["last"] == second.seq + 1 and 'id="call-toolu_9"' not in update["html"]


def test_static_serves_only_its_two_files(console: Console) -> None:
    assert get(console, "/static/console.css").headers["content-type"].startswith("text/css")
    for path in ("/static/../app.py", "/static/tokens.py", "/static/%2e%2e/app.py", "/static/"):
        assert get(console, path).status_code == 404, path
