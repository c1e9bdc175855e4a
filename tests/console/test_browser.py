"""The console in a real headless chromium: the demo's job opened from the link in its Slack
handoff, a running job's page updating by itself, and refused links."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console as RichConsole

from bot.console.tokens import Grant
from bot.demo.report import DemoReport
from bot.demo.run import DemoOptions, run_demo
from bot.model import EventKind
from tests.console.browser import chromium, require_chromium, screenshot
from tests.console.conftest import Console, start_job

WAIT = 120  # seconds: only catches a hang; every wait below ends when its element appears
LINK = re.compile(r"<(http://127\.0\.0\.1:\d+/jobs/[^|>]+)\|Open the trace>")


def _wait(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def _all(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, css))


def _handoff_link(report: DemoReport) -> str:
    """The "Open the trace" link as emulated Slack stored the handoff message."""
    for message in report.slack["ticket_thread"]:
        for block in message.get("blocks") or []:
            for element in block.get("elements") or []:
                found = LINK.search(str(element.get("text") or ""))
                if found:
                    return found.group(1)
    raise AssertionError("no 'Open the trace' link in the handoff as posted")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_demo_job_opens_from_its_slack_handoff(tmp_path: Path) -> None:
    require_chromium()  # before the demo's minute of work
    seen: dict[str, Any] = {}

    def in_browser(report: DemoReport) -> None:
        with chromium(tmp_path) as driver:
            _check_job_page(driver, _handoff_link(report), tmp_path, seen)
            assert report.console_jobs_url is not None
            driver.get(report.console_jobs_url)  # type: ignore[attr-defined]
            row = _wait(driver, f"#job-{report.job_id}")
            assert "escalated" in row.text
            seen["list"] = screenshot(driver, "console-list.png", tmp_path)

    options = DemoOptions(workdir=tmp_path / "demo", echo=False, linger=in_browser)
    report = run_demo(options, RichConsole(quiet=True))
    assert report.resumed and seen["job"].stat().st_size > 10_000 and seen["list"].exists()


def _check_job_page(driver: Any, url: str, tmp: Path, seen: dict[str, Any]) -> None:
    driver.get(url)
    _wait(driver, "#timeline li.entry")
    # the SIGKILL: the first worker's lease lost, then the second worker's resume, with
    # what it did not redo
    lost = _all(driver, "li[data-kind=interrupted]")
    assert lost and "demo-worker-1" in lost[0].text, [e.text for e in lost]
    resumed = _all(driver, "li[data-kind=resumed]")
    assert resumed and "demo-worker-2" in resumed[0].text
    assert "recorded model responses" in resumed[0].find_element("css selector", ".f-skipped").text
    # the command the gate refused, with its rule and reason
    blocked = _all(driver, "li[data-kind=tool_blocked]")
    assert blocked and "kubectl rollout restart" in blocked[0].text
    assert "read-only" in blocked[0].find_element("css selector", ".f-reason").text
    # Vault did not answer
    degraded = [e.text for e in _all(driver, "li[data-kind=degraded]")]
    assert any("vault" in text for text in degraded), degraded
    # the handoff as posted, each confirmed fact linked to the step that supports it
    assert "Escalated to on-call" in driver.find_element("css selector", "#handoff h2").text
    evidence = _all(driver, "#confirmed a.evidence")
    assert evidence
    target = evidence[0].get_attribute("href").split("#", 1)[1]
    assert _all(driver, f"#{target}"), f"fact links to #{target}, which is not on the page"
    seen["job"] = screenshot(driver, "console-job.png", tmp)
    evidence[0].click()
    assert driver.execute_script("return location.hash") == f"#{target}"


def test_a_running_job_shows_new_events_without_a_reload(console: Console, tmp_path: Path) -> None:
    job_id, lease = start_job(console.store, "checkout returns 502 since 10:00")
    with chromium(tmp_path) as driver:
        driver.get(console.links.job_url(job_id, "acme"))  # type: ignore[attr-defined]
        _wait(driver, "#timeline li.entry")
        driver.execute_script("window.steadfastNoReload = 'same page';")  # type: ignore[attr-defined]
        event = console.store.append(lease, EventKind.ASSUMPTION, {"text": "checkout pods are up"})
        entry = _wait(driver, f"#e-{event.seq}")
        assert "checkout pods are up" in entry.text
        assert driver.execute_script("return window.steadfastNoReload") == "same page"  # type: ignore[attr-defined]


def test_tampered_expired_and_other_tenant_links_get_403(console: Console, tmp_path: Path) -> None:
    job_id, _ = start_job(console.store, "for acme")
    good = console.links.job_url(job_id, "acme")
    token = good.split("?t=", 1)[1]
    expired = console.signer.sign(Grant("job", "acme", job_id, int(time.time()) - 1))
    links = {
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "expired": f"{console.url}/jobs/{job_id}?t={expired}",
        "another tenant": f"{console.url}/jobs/{job_id}?t="
        + console.signer.tenant_token("globex", 60),
        "a job link on the list": f"{console.url}/?t={token}",
    }
    with chromium(tmp_path) as driver:
        for why, url in links.items():
            driver.get(url)  # type: ignore[attr-defined]
            error = _wait(driver, "#error")
            assert "Not available" in error.text, why
            assert not _all(driver, "#timeline"), why
        driver.get(good)  # type: ignore[attr-defined]
        assert _wait(driver, "#ticket") and not _all(driver, "#error")
