"""Integration call costs against the emulators (127.0.0.1), and what a dead dependency costs
with the circuit breaker closed vs open. Prints a table.

    .venv/bin/python bench/bench_integrations.py
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.settings import Settings
from bot.wiring import http_config, kubernetes_config, vault_config
from core.scrubber import Scrubber
from emulators.base import load_scenario
from emulators.kubernetes import KubernetesEmulator
from emulators.logs import LokiEmulator
from emulators.platform import PlatformEmulator
from emulators.vault import VaultEmulator
from integrations.breaker import CircuitBreaker
from integrations.http import ApiConfig, HttpClient
from integrations.kubernetes import KubernetesClient
from integrations.logs import LogsConfig, LogStoreConfig, LogStores
from integrations.retry import RetryPolicy
from integrations.vault import VaultClient
from policy.document import Policy
from policy.source import FixedPolicy
from sandbox.gate import GateJudge


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def policy(port: int) -> Policy:
    return Policy.model_validate(
        {
            "http": {"hosts": ["127.0.0.1"], "ports": [port]},
            "kubernetes": {"resources": ["pods", "pods/log"]},
            "tenants": {
                "acme": {"namespaces": ["acme-prod"], "vault_paths": ["secret/tenants/{tenant}/*"]}
            },
        }
    )


def main() -> None:
    scenario = copy.deepcopy(load_scenario())
    scenario["vault"]["timeout_paths"] = []
    token = Path(tempfile.mkdtemp()) / "token"
    token.write_text("steadfast-demo-sa-token")
    rows: list[tuple[str, str]] = []
    with (
        VaultEmulator(scenario) as v,
        KubernetesEmulator(scenario) as k,
        PlatformEmulator(scenario) as p,
        LokiEmulator(scenario) as loki,
    ):
        settings = Settings(
            vault_addr=v.url,
            vault_token=SecretStr("steadfast-demo-root-token"),
            kube_api_server=k.url,
            kube_token_path=token,
            vault_timeout_seconds=0.5,
        )
        pol, scrubber = GateJudge(FixedPolicy(policy(p.port))), Scrubber()
        vault = VaultClient(vault_config(settings), pol, scrubber)
        kube = KubernetesClient(kubernetes_config(settings), pol, scrubber)
        api = ApiConfig(p.url, token=SecretStr("platform-demo-token"))
        http = HttpClient(http_config(settings), pol, scrubber, {"platform": api})
        logs = LogStores(LogsConfig({"loki": LogStoreConfig("loki", loki.url)}), pol, scrubber)
        calls = {
            "vault read (hvac)": lambda: vault.read("acme", "secret/tenants/acme/db"),
            "kubernetes list pods": lambda: kube.list("pods", "acme-prod", "acme"),
            "kubernetes pod logs": lambda: kube.logs(
                "auth-api-7c9d8f6b5-x2k9p", "acme-prod", "acme"
            ),
            "http GET platform API": lambda: http.get("platform:/v1/instances/i-123", "acme"),
            "loki query_range": lambda: logs.query("loki", '{app="auth-api"}', "acme"),
        }
        for name, fn in calls.items():
            fn()  # warm up (login, connection pool)
            rows.append((f"{name}, healthy", f"{median_ms(fn, 200):.2f} ms"))

        # a dependency that hangs: the first calls pay timeout x attempts, then the breaker opens
        v.timeout_paths = ["^/v1/secret/data/tenants/acme/"]
        v.timeout_ms = 5_000
        breaker = CircuitBreaker("vault", failure_threshold=1, reset_seconds=60)
        dead = VaultClient(
            vault_config(settings), pol, scrubber, breaker=breaker, retry=RetryPolicy(attempts=3)
        )
        first = median_ms(lambda: dead.read("acme", "secret/tenants/acme/db"), 1)
        rows.append(("vault hanging, breaker closed (3 attempts x 0.5 s)", f"{first:.0f} ms"))
        opened = median_ms(lambda: dead.read("acme", "secret/tenants/acme/db"), 1000)
        rows.append(("vault hanging, breaker open", f"{opened * 1000:.1f} us"))
        for client in (vault, kube, http, logs, dead):
            client.close()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
