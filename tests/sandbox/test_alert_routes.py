"""`alert_routes` in the policy: Alertmanager-style matchers, first match wins, and the same
file:line errors as every other section (`steadfast policy check`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import build_app
from policy.alerts import AlertRoute, Matcher
from policy.errors import PolicyError
from policy.loader import parse_policy

HEAD = "version: 1\ntenants:\n  acme:\n    channels: [C0ACME]\n  shop:\n    channels: [C0SHOP]\n"


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ("severity=critical", {"severity": "critical"}, True),
        ('severity!="info"', {}, True),  # a missing label is the empty string
        ('namespace=~"acme-.*"', {"namespace": "acme-prod"}, True),
        ('namespace=~"acme"', {"namespace": "acme-prod"}, False),  # anchored, as Alertmanager
        ('namespace!~"acme-.*"', {"namespace": "shop"}, True),
        ('team=""', {}, True),
        ('summary="a \\"quoted\\" word"', {"summary": 'a "quoted" word'}, True),
    ],
)
def test_matchers_follow_alertmanager(matcher: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(matcher).matches(labels) is expected


def test_the_first_matching_route_wins_and_an_empty_route_catches_the_rest() -> None:
    policy = parse_policy(
        HEAD
        + "alert_routes:\n"
        + "  - matchers: ['namespace=~\"acme-.*\"', 'severity=\"critical\"']\n"
        + "    channel: C0ACME\n"
        + "  - channel: C0SHOP\n"
        + "    max_alerts_per_group: 1\n"
    )
    crit = policy.alert_route_for({"namespace": "acme-prod", "severity": "critical"})
    assert crit is not None and crit.channel == "C0ACME" and crit.max_alerts_per_group == 5
    rest = policy.alert_route_for({"namespace": "acme-prod", "severity": "warning"})
    assert rest is not None and rest.channel == "C0SHOP"
    assert parse_policy(HEAD).alert_route_for({"alertname": "x"}) is None  # none configured


@pytest.mark.parametrize(
    ("route", "line", "problem"),
    [
        ("  - matchers: ['namespace=~\"acme-(\"']\n    channel: C0ACME\n", 8, "invalid regular"),
        ("  - matchers: ['namespace']\n    channel: C0ACME\n", 8, "Alertmanager's form"),
        ("  - channel: C0ACME\n    tenant: nobody\n", 8, "'nobody' is not under `tenants`"),
        ("  - channel: C0ELSEWHERE\n", 8, "set `tenant`"),
        ("  - channel: C0ACME\n    max_alerts_per_group: 0\n", 9, "greater than or equal to 1"),
        ("  - channel: C0ACME\n    matcher: []\n", 9, "unknown key"),
        ("  - matchers: ['a=\"b\"']\n", 8, "channel"),
    ],
)
def test_bad_routes_are_refused_with_file_and_line(route: str, line: int, problem: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(HEAD + "alert_routes:\n" + route, "p.yaml")
    assert f"p.yaml:{line}:" in str(info.value) and problem in str(info.value)


def test_policy_check_reports_a_bad_route(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEADFAST_POLICY", raising=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "alert_routes:\n  - matchers: ['x=~\"[\"']\n    channel: C0ACME\n")
    result = CliRunner().invoke(build_app(), ["policy", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:8:" in result.output and "invalid regular expression" in result.output


def test_a_route_to_a_channel_of_a_tenant_needs_no_tenant_key() -> None:
    policy = parse_policy(HEAD + "alert_routes:\n  - channel: C0SHOP\n")
    assert policy.alert_routes == [AlertRoute(channel="C0SHOP")]
