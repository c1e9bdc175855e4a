"""VaultClient (hvac) against the Vault emulator: auth methods, renewal, re-login, faults."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from bot.wiring import vault_config
from core.scrubber import Scrubber
from core.secret import Secret
from emulators.vault import VaultEmulator
from integrations.outcome import Degraded, Ok
from integrations.retry import RetryPolicy
from integrations.vault import VaultClient
from tests.integrations.conftest import CANARY, FAST_RETRY, fast_breaker, make_judge, settings_for

DB = "secret/tenants/acme/db"


def client(emulator: VaultEmulator, scrubber: Scrubber, **kwargs: object) -> VaultClient:
    auth = str(kwargs.pop("auth", "approle"))
    settings = settings_for(
        vault_addr=emulator.url,
        vault_auth=auth,
        vault_token=kwargs.pop("token", "steadfast-demo-root-token"),
        vault_role_id="steadfast-reader",
        vault_secret_id="steadfast-demo-secret-id",
        vault_kubernetes_role="steadfast",
        **{k: v for k, v in kwargs.items() if k.startswith(("vault_", "kube"))},
    )
    extra = {k: v for k, v in kwargs.items() if not k.startswith(("vault_", "kube"))}
    extra.setdefault("retry", FAST_RETRY)
    extra.setdefault("breaker", fast_breaker("vault"))
    vault = VaultClient(vault_config(settings), make_judge(), scrubber, **extra)  # type: ignore[arg-type]
    _open.append(vault)
    return vault


_open: list[VaultClient] = []


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _open:
        _open.pop().close()


@pytest.mark.parametrize("auth", ["token", "approle"])
def test_read_returns_opaque_secrets(vault_emulator, scrubber, auth):
    vault = client(vault_emulator, scrubber, auth=auth)
    outcome = vault.read("acme", DB)
    assert isinstance(outcome, Ok)
    secret = outcome.value["password"]
    assert isinstance(secret, Secret) and secret.reveal() == CANARY
    assert CANARY not in repr(outcome) and CANARY not in str(outcome.value)
    assert "secret/tenants/acme/db#password" in str(secret)
    assert scrubber.scrub(f"dsn=postgres://u:{CANARY}@db").count(CANARY) == 0


def test_kubernetes_auth_reads_the_service_account_jwt(vault_emulator, scrubber, tmp_path: Path):
    jwt = tmp_path / "token"
    jwt.write_text("steadfast-demo-sa-token")
    vault = client(vault_emulator, scrubber, auth="kubernetes", vault_kubernetes_jwt_path=jwt)
    assert isinstance(vault.read("acme", DB), Ok)
    assert vault_emulator.logins == ["kubernetes"]


def test_expired_token_mid_run_logs_in_again_and_succeeds(vault_emulator, scrubber):
    vault = client(vault_emulator, scrubber)
    assert isinstance(vault.read("acme", DB), Ok)
    httpx.post(f"{vault_emulator.url}/_control/expire-tokens")
    outcome = vault.read("acme", DB)
    assert isinstance(outcome, Ok), outcome
    assert vault_emulator.logins == ["approle", "approle"]


def test_token_is_renewed_before_it_expires(vault_emulator, scrubber):
    now = [1000.0]
    vault = client(vault_emulator, scrubber, clock=lambda: now[0])
    assert isinstance(vault.read("acme", DB), Ok)  # lease 3600 s
    now[0] += 3000  # less than a third of the lease left
    assert isinstance(vault.read("acme", DB), Ok)
    assert vault_emulator.renewals == 1
    assert vault_emulator.logins == ["approle"]


def test_rejected_static_token_is_degraded_not_raised(vault_emulator, scrubber):
    vault = client(vault_emulator, scrubber, auth="token", token="not-a-valid-token-xyz")
    outcome = vault.read("acme", DB)
    assert isinstance(outcome, Degraded)
    assert "permission denied" in outcome.reason
    assert "not-a-valid-token-xyz" not in outcome.reason


@pytest.mark.parametrize(
    ("mode", "expect"),
    [
        ("500", "InternalServerError"),
        ("503", "VaultDown"),
        ("429", "rate limiting"),
        ("down", "cannot connect"),
        ("reset", "cannot connect"),
    ],
)
def test_fault_modes_degrade_with_a_readable_reason(vault_emulator, scrubber, mode, expect):
    vault = client(vault_emulator, scrubber, sleep=lambda s: None)
    assert isinstance(vault.read("acme", DB), Ok)  # logged in before the fault
    vault_emulator.faults.set(mode, retry_after=0.01)
    outcome = vault.read("acme", DB)
    assert isinstance(outcome, Degraded), outcome
    assert outcome.dependency == "vault" and outcome.retryable
    assert expect in outcome.reason and "reading secret/tenants/acme/db" in outcome.reason
    assert CANARY not in outcome.reason


def test_slow_vault_times_out_as_degraded(vault_emulator, scrubber):
    vault = client(
        vault_emulator, scrubber, vault_timeout_seconds=0.3, retry=RetryPolicy(attempts=2)
    )
    assert isinstance(vault.read("acme", DB), Ok)
    vault_emulator.faults.set("slow", delay_ms=1500)
    outcome = vault.read("acme", DB)
    assert isinstance(outcome, Degraded)
    assert "did not answer within 0.3s" in outcome.reason


def test_demo_timeout_knob_hangs_only_the_tenant_paths(vault_emulator, scrubber):
    vault = client(vault_emulator, scrubber, vault_timeout_seconds=0.3, sleep=lambda s: None)
    httpx.post(
        f"{vault_emulator.url}/_control/timeout-paths",
        json={"paths": ["^/v1/secret/data/tenants/acme/"]},
    )
    outcome = vault.read("acme", DB)
    assert isinstance(outcome, Degraded) and "did not answer" in outcome.reason
    assert vault.health().healthy  # sys/health is not a tenant path


def test_429_retry_after_is_honoured_then_succeeds(vault_emulator, scrubber):
    slept: list[float] = []
    vault = client(vault_emulator, scrubber, sleep=slept.append)
    assert isinstance(vault.read("acme", DB), Ok)
    vault_emulator.faults.set("429", retry_after=0.15, count=1)
    assert isinstance(vault.read("acme", DB), Ok)
    assert slept == [0.15]


def test_paths_outside_the_tenant_are_refused_before_any_request(vault_emulator, scrubber):
    vault = client(vault_emulator, scrubber)
    before = len(vault_emulator.requests)
    for tenant, path in [
        ("globex", DB),
        ("acme", "secret/tenants/globex/db"),
        ("acme", "secret/tenants/acme/../globex/db"),
        ("nobody", DB),
    ]:
        outcome = vault.read(tenant, path)
        assert isinstance(outcome, Degraded) and not outcome.retryable, (tenant, path)
    assert len(vault_emulator.requests) == before


def test_missing_secret_is_a_clear_non_retryable_answer(vault_emulator, scrubber):
    outcome = client(vault_emulator, scrubber).read("acme", "secret/tenants/acme/nope")
    assert isinstance(outcome, Degraded)
    assert "no secret at that path" in outcome.reason and not outcome.retryable


def test_check_credentials_names_paths_and_keys_never_values(vault_emulator, scrubber):
    outcome = client(vault_emulator, scrubber).check_credentials("acme")
    assert isinstance(outcome, Ok)
    paths = outcome.value["paths"]
    assert paths["secret/tenants/acme/db"] == {"status": "ok", "keys": ["password", "username"]}
    assert "secret/tenants/acme/api" in paths
    assert CANARY not in repr(outcome)


def test_health_reports_auth_state(vault_emulator, scrubber):
    health = client(vault_emulator, scrubber).health()
    assert health.healthy and health.dependency == "vault"
    assert "approle" in health.auth and "TTL" in health.auth
    vault_emulator.faults.set("503")
    sick = client(vault_emulator, scrubber).health()
    assert not sick.healthy and sick.detail


def test_unconfigured_vault_degrades(scrubber):
    vault = VaultClient(vault_config(settings_for(vault_addr=None)), make_judge(), scrubber)
    _open.append(vault)
    outcome = vault.read("acme", DB)
    assert isinstance(outcome, Degraded) and "VAULT_ADDR" in outcome.reason
    assert not vault.health().healthy


def test_expired_token_fault_triggers_one_fresh_login(vault_emulator, scrubber):
    vault = client(vault_emulator, scrubber)
    assert isinstance(vault.read("acme", DB), Ok)
    vault_emulator.faults.set("expired_token", count=1)
    assert isinstance(vault.read("acme", DB), Ok)
    assert vault_emulator.logins == ["approle", "approle"]
    vault_emulator.faults.set("expired_token")  # every answer: give up after one re-login
    outcome = vault.read("acme", DB)
    assert isinstance(outcome, Degraded) and "refused the approle login" in outcome.reason
    assert not outcome.retryable


def test_token_expiring_on_its_real_ttl_mid_run(scenario, scrubber):
    data = {
        **scenario,
        "vault": {**scenario["vault"], "approle": {**scenario["vault"]["approle"], "ttl": 1}},
    }
    with VaultEmulator(data) as emulator:
        vault = client(emulator, scrubber)
        assert isinstance(vault.read("acme", DB), Ok)
        deadline = time.monotonic() + 5
        while any(t.valid() for t in emulator.tokens.values() if t.expires is not None):
            assert time.monotonic() < deadline, "token never expired"
            time.sleep(0.05)
        outcome = vault.read("acme", DB)
        assert isinstance(outcome, Ok), outcome
        assert emulator.logins == ["approle", "approle"]


def test_re_login_and_renewal_are_told_to_the_refresh_observer(vault_emulator, scrubber):
    heard: list[tuple[str, str]] = []
    vault = client(vault_emulator, scrubber, on_refresh=lambda d, w: heard.append((d, w)))
    assert isinstance(vault.read("acme", DB), Ok)
    assert heard == []  # the first login is not a refresh
    vault_emulator.faults.set("expired_token", count=1)
    assert isinstance(vault.read("acme", DB), Ok)
    assert heard == [("vault", "re-login (approle): token rejected")]
    assert all("steadfast-demo" not in what for _, what in heard)  # never a secret
