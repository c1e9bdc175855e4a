"""HttpClient against the platform emulator; LogStores against the Loki and Elasticsearch
emulators."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.errors import ConfigError
from bot.wiring import apis_from_settings, http_config, vault_config
from integrations.errors import AccessDenied
from integrations.http import ApiConfig, HttpClient, HttpConfig
from integrations.logs import LogsConfig, LogStoreConfig, LogStores, confine_logql
from integrations.outcome import Degraded, Ok
from integrations.vault import VaultClient
from tests.integrations.conftest import FAST_RETRY, make_judge, make_policy, settings_for


@pytest.fixture
def http(platform_emulator, scrubber, closing):
    def build(token: str | None = "platform-demo-token", ports=None, **kwargs):
        api = ApiConfig(
            base_url=platform_emulator.url, token=SecretStr(token) if token else None, **kwargs
        )
        client = HttpClient(
            HttpConfig(),
            make_judge(ports or [platform_emulator.port]),
            scrubber,
            {"platform": api},
            retry=FAST_RETRY,
            sleep=lambda s: None,
        )
        closing.append(client)
        return client

    return build


def test_named_api_get_returns_json(http):
    outcome = http().get("platform:/v1/instances/i-123", "acme")
    assert isinstance(outcome, Ok)
    assert outcome.value.status == 200 and outcome.value.json["state"] == "ERROR"
    other = http().get("platform/v1/tenants/acme/quota", "acme")
    assert isinstance(other, Ok) and other.value.json["exhausted"] is False
    missing = http().get("platform:/v1/instances/i-999", "acme")
    assert isinstance(missing, Ok) and missing.value.status == 404  # an answer, not a failure


def test_only_get_and_head_and_only_allowlisted_hosts_and_ports(http, platform_emulator):
    client = http()
    before = len(platform_emulator.requests)
    for target, method in [
        ("platform:/v1/instances/i-123", "POST"),
        ("platform:/v1/instances/i-123", "DELETE"),
        (f"http://localhost:{platform_emulator.port}/v1/instances/i-123", "GET"),
        ("http://127.0.0.1:1/v1/instances/i-123", "GET"),
        ("ftp://127.0.0.1/x", "GET"),
    ]:
        outcome = client.get(target, "acme", method=method)
        assert isinstance(outcome, Degraded) and not outcome.retryable, (target, method)
    assert len(platform_emulator.requests) == before
    head = client.get("platform:/v1/instances/i-123", "acme", method="HEAD")
    assert isinstance(head, Ok) and head.value.status == 200


def test_adhoc_urls_get_no_credentials_and_pass_the_gates_ssrf_rules(http, platform_emulator):
    client = http()
    before = len(platform_emulator.requests)
    outcome = client.get(f"{platform_emulator.url}/v1/instances/i-123", "acme")
    assert isinstance(outcome, Degraded) and "loopback" in outcome.reason
    assert outcome.dependency == "http:127.0.0.1"
    assert len(platform_emulator.requests) == before
    name, _, api = client._resolve("https://api.acme-prod.svc/v1/x")
    assert name is None and api is None  # so _fetch adds no auth header
    escape = client.get("platform:/v1/../../admin", "acme")
    assert isinstance(escape, Degraded) and "must stay under" in escape.reason


def test_unknown_api_name_is_a_clear_error(http):
    outcome = http().get("billing:/v1/x", "acme")
    assert isinstance(outcome, Degraded) and "configured APIs: platform" in outcome.reason


def test_response_size_cap(http, platform_emulator):
    platform_emulator.responses["/big"] = {"blob": "x" * 200_000}
    outcome = http().get("platform:/big", "acme")
    assert isinstance(outcome, Ok) and outcome.value.truncated
    assert len(outcome.value.text or "") <= make_policy().limits.output_cap_bytes


@pytest.mark.parametrize(
    ("mode", "expect", "retryable"),
    [
        ("500", "answered HTTP 500", True),
        ("503", "answered HTTP 503", True),
        ("429", "answered HTTP 429", True),
        ("down", "cannot connect", True),
        ("reset", "cannot connect", True),
        ("expired_token", "rejected our credentials", False),
    ],
)
def test_http_fault_modes(http, platform_emulator, mode, expect, retryable):
    platform_emulator.faults.set(mode, retry_after=0.01)
    outcome = http().get("platform:/v1/instances/i-123", "acme")
    assert isinstance(outcome, Degraded)
    assert outcome.dependency == "http:platform" and outcome.retryable is retryable
    assert expect in outcome.reason


def test_http_timeout(platform_emulator, scrubber, closing):
    client = HttpClient(
        HttpConfig(timeout_seconds=0.3),
        make_judge([platform_emulator.port]),
        scrubber,
        {"platform": ApiConfig(base_url=platform_emulator.url)},
        retry=FAST_RETRY,
        sleep=lambda s: None,
    )
    closing.append(client)
    platform_emulator.faults.set("slow", delay_ms=1000)
    outcome = client.get("platform:/v1/instances/i-123", "acme")
    assert isinstance(outcome, Degraded) and "no answer within 0.3s" in outcome.reason


def test_token_from_vault_is_used_and_never_shown(
    platform_emulator, vault_emulator, scrubber, closing
):
    settings = settings_for(
        vault_addr=vault_emulator.url,
        vault_token="steadfast-demo-root-token",
        platform_apis={"platform": platform_emulator.url},
        platform_api_auth={"platform": "vault:secret/platform/api#token"},
    )
    vault = VaultClient(vault_config(settings), make_judge(), scrubber)
    client = HttpClient(
        http_config(settings),
        make_judge([platform_emulator.port]),
        scrubber,
        apis_from_settings(settings, {}),
        vault=vault,
    )
    closing.extend([vault, client])
    outcome = client.get("platform:/v1/regions/eu-west-1/capacity", "acme")
    assert isinstance(outcome, Ok) and outcome.value.json["status"] == "healthy"
    assert (
        scrubber.scrub("Bearer platform-demo-token")
        == "Bearer [redacted:secret/platform/api#token]"
    )
    (health,) = client.health()
    assert health.healthy and health.auth == "bearer token"


def test_env_token_resolution_happens_at_the_entry_point():
    """`env:VAR` is read from the environment the entry point passes; an unset variable is a
    configuration error, never a client that silently sends no credentials."""
    settings = settings_for(
        platform_apis={"p": "http://127.0.0.1:9"}, platform_api_auth={"p": "env:P_TOKEN"}
    )
    apis = apis_from_settings(settings, {"P_TOKEN": "tok-123456"})
    assert apis["p"].token is not None and apis["p"].token.get_secret_value() == "tok-123456"
    with pytest.raises(ConfigError, match="P_TOKEN, which is not set"):
        apis_from_settings(settings, {})


# --- log stores -------------------------------------------------------------------------------


@pytest.fixture
def logs(loki_emulator, es_emulator, scrubber, closing):
    stores = {
        "loki": LogStoreConfig("loki", loki_emulator.url),
        "elasticsearch": LogStoreConfig("elasticsearch", es_emulator.url, index="logs-*"),
    }
    client = LogStores(
        LogsConfig(stores), make_judge(), scrubber, retry=FAST_RETRY, sleep=lambda s: None
    )
    closing.append(client)
    return client


def test_loki_query_is_confined_to_the_tenant(logs):
    outcome = logs.query("loki", '{app="auth-api"} |= "password authentication"', "acme")
    assert isinstance(outcome, Ok) and len(outcome.value) == 2
    assert all(row["labels"]["tenant"] == "acme" for row in outcome.value)
    assert outcome.value[0]["time"] >= outcome.value[1]["time"]  # newest first
    everything = logs.query("loki", '{level="error"}', "acme")
    assert isinstance(everything, Ok)
    assert "upstream timed out" not in str(everything.value)  # globex's line
    refused = logs.query("loki", '{tenant="globex"}', "acme")
    assert isinstance(refused, Degraded) and not refused.retryable
    assert isinstance(logs.query("loki", '{app="web"}', None), Degraded)


def test_confine_logql():
    assert confine_logql('{app="x"} |= "e"', "tenant", "acme") == '{tenant="acme", app="x"} |= "e"'
    assert confine_logql('{tenant="acme"}', "tenant", "acme") == '{tenant="acme"}'
    with pytest.raises(AccessDenied):
        confine_logql('{tenant=~".*"}', "tenant", "acme")


def test_loki_bad_query_and_faults(logs, loki_emulator):
    bad = logs.query("loki", "not logql", "acme")
    assert isinstance(bad, Degraded) and "stream selector" in bad.reason
    loki_emulator.faults.set("503")
    down = logs.query("loki", '{app="auth-api"}', "acme")
    assert isinstance(down, Degraded) and down.dependency == "logs:loki" and down.retryable
    unknown = logs.query("splunk", "x", "acme")
    assert isinstance(unknown, Degraded) and "unknown log store" in unknown.reason


def test_elasticsearch_search_is_confined_to_the_tenant(logs):
    outcome = logs.query("elasticsearch", "password", "acme", since_seconds=7200)
    assert isinstance(outcome, Ok) and len(outcome.value) == 2
    assert {row["labels"]["tenant"] for row in outcome.value} == {"acme"}
    assert "password authentication failed" in outcome.value[0]["line"]


def test_log_store_health(logs, loki_emulator):
    assert all(h.healthy for h in logs.health())
    loki_emulator.faults.set("down")
    health = {h.dependency: h for h in logs.health()}
    assert not health["logs:loki"].healthy and health["logs:elasticsearch"].healthy


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        ("500", "answered HTTP 500"),
        ("503", "answered HTTP 503"),
        ("429", "answered HTTP 429"),
        ("down", "cannot connect"),
        ("reset", "cannot connect"),
        ("expired_token", "rejected the request (HTTP 403)"),
    ],
)
@pytest.mark.parametrize("store", ["loki", "elasticsearch"])
def test_log_store_fault_modes(logs, loki_emulator, es_emulator, store, mode, expect):
    emulator = loki_emulator if store == "loki" else es_emulator
    emulator.faults.set(mode, retry_after=0.01)
    query = '{app="auth-api"}' if store == "loki" else "password"
    outcome = logs.query(store, query, "acme")
    assert isinstance(outcome, Degraded) and outcome.dependency == f"logs:{store}"
    assert expect in outcome.reason


def test_log_store_timeout(loki_emulator, scrubber, closing):
    client = LogStores(
        LogsConfig({"loki": LogStoreConfig("loki", loki_emulator.url)}, timeout_seconds=0.3),
        make_judge(),
        scrubber,
        retry=FAST_RETRY,
        sleep=lambda s: None,
    )
    closing.append(client)
    loki_emulator.faults.set("slow", delay_ms=1000)
    outcome = client.query("loki", '{app="auth-api"}', "acme")
    assert isinstance(outcome, Degraded) and "no answer within 0.3s" in outcome.reason
