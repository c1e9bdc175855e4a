"""A canary secret planted in Vault never appears in any string an integration returns, raises
or logs, even when other systems echo it back (a log line, an API body, a ConfigMap)."""

from __future__ import annotations

import copy
import logging

import httpx
import pytest
from pydantic import SecretStr

from bot.wiring import http_config, kubernetes_config, vault_config
from emulators.kubernetes import KubernetesEmulator
from emulators.logs import LokiEmulator
from emulators.platform import PlatformEmulator
from emulators.vault import VaultEmulator
from integrations.http import ApiConfig, HttpClient
from integrations.kubernetes import KubernetesClient
from integrations.logs import LogsConfig, LogStoreConfig, LogStores
from integrations.outcome import Degraded, Ok
from integrations.vault import VaultClient
from tests.integrations.conftest import CANARY, FAST_RETRY, make_judge, settings_for


def leaky_scenario(scenario):
    data = copy.deepcopy(scenario)
    data["platform"]["responses"]["/v1/debug"] = {"dsn": f"postgres://auth_api:{CANARY}@db/auth"}
    data["platform"]["responses"]["/v1/echo"] = {"note": f"the password is {CANARY}"}
    data["logs"]["streams"][0]["lines"].append(["${now-1m}", f"retrying with {CANARY}"])
    data["cluster"]["configmaps"][0]["data"]["NOTE"] = f"old value {CANARY}"
    pod = "acme-prod/auth-api-7c9d8f6b5-x2k9p"
    data["cluster"]["logs"][pod]["current"]["auth-api"] += f"debug: connecting with {CANARY}\n"
    return data


@pytest.mark.slow
def test_canary_never_leaves_the_integrations(scenario, scrubber, token_file, caplog, closing):
    caplog.set_level(logging.DEBUG)  # every logger, vendors included
    data = leaky_scenario(scenario)
    with (
        VaultEmulator(data) as vault_emu,
        KubernetesEmulator(data) as kube_emu,
        PlatformEmulator(data) as platform_emu,
        LokiEmulator(data) as loki_emu,
    ):
        settings = settings_for(
            vault_addr=vault_emu.url,
            vault_auth="approle",
            vault_role_id="steadfast-reader",
            vault_secret_id="steadfast-demo-secret-id",
            kube_api_server=kube_emu.url,
            kube_token_path=token_file,
        )
        policy = make_judge([platform_emu.port])
        kwargs = {"retry": FAST_RETRY, "sleep": lambda s: None}
        vault = VaultClient(vault_config(settings), policy, scrubber, **kwargs)
        kube = KubernetesClient(kubernetes_config(settings), policy, scrubber, **kwargs)
        api = ApiConfig(platform_emu.url, token=SecretStr("platform-demo-token"))
        http = HttpClient(http_config(settings), policy, scrubber, {"platform": api}, **kwargs)
        logs = LogStores(
            LogsConfig({"loki": LogStoreConfig("loki", loki_emu.url)}), policy, scrubber, **kwargs
        )
        closing.extend([vault, kube, http, logs])

        read = vault.read("acme", "secret/tenants/acme/db")
        assert isinstance(read, Ok) and read.value["password"].reveal() == CANARY
        outcomes: list[object] = [
            read,
            vault.check_credentials("acme"),
            kube.get("configmaps", "auth-api-config", "acme-prod", "acme"),
            kube.logs("auth-api-7c9d8f6b5-x2k9p", "acme-prod", "acme"),
            http.get("platform:/v1/debug", "acme"),
            http.get("platform:/v1/echo", "acme"),
            logs.query("loki", '{app="auth-api"}', "acme"),
            vault.health(),
            kube.health(),
        ]
        # the same calls failing: reasons and logs must be clean too
        for emu in (vault_emu, kube_emu, platform_emu, loki_emu):
            emu.faults.set("500")
        outcomes += [
            vault.read("acme", "secret/tenants/acme/db"),
            kube.logs("auth-api-7c9d8f6b5-x2k9p", "acme-prod", "acme"),
            http.get("platform:/v1/echo", "acme"),
            logs.query("loki", '{app="auth-api"}', "acme"),
        ]
        httpx.post(f"{vault_emu.url}/_control/expire-tokens")
        outcomes.append(vault.check_credentials("acme"))

    assert any(isinstance(o, Degraded) for o in outcomes)
    texts = [repr(o) for o in outcomes] + [str(o) for o in outcomes]
    for text in texts:
        assert CANARY not in text
    assert "[redacted:secret/tenants/acme/db#password]" in " ".join(texts)
    assert caplog.records, "expected the failures above to be logged"
    assert CANARY not in caplog.text
    for record in caplog.records:
        assert CANARY not in record.getMessage()
