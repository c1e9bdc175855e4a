"""Build every configured integration from `Settings` once, at the entry point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.settings import Settings
from core.scrubber import Scrubber
from integrations.access import PolicySource
from integrations.health import Health, check_all
from integrations.http import HttpClient, apis_from_settings
from integrations.kubernetes import KubernetesClient
from integrations.logs import LogStores
from integrations.vault import VaultClient


@dataclass
class Integrations:
    scrubber: Scrubber
    vault: VaultClient | None
    kubernetes: KubernetesClient | None
    http: HttpClient
    logs: LogStores

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        policy: PolicySource,
        scrubber: Scrubber,
        *,
        environ: Mapping[str, str] | None = None,
        metrics: Any | None = None,
    ) -> Integrations:
        """`environ` is the process environment, passed by the entry point, for
        `platform_api_auth` entries of the form "env:VAR"."""
        vault = (
            VaultClient(settings, policy, scrubber, metrics=metrics)
            if settings.vault_addr
            else None
        )
        kube_configured = bool(
            settings.kube_api_server or settings.kubeconfig or settings.kube_in_cluster
        )
        kubernetes = (
            KubernetesClient(settings, policy, scrubber, metrics=metrics)
            if kube_configured
            else None
        )
        apis = apis_from_settings(settings, environ or {})
        http = HttpClient(settings, policy, scrubber, apis, vault=vault, metrics=metrics)
        logs = LogStores(settings, policy, scrubber, metrics=metrics)
        return cls(scrubber, vault, kubernetes, http, logs)

    def health(self) -> list[Health]:
        return check_all(self)

    def close(self) -> None:
        for client in (self.vault, self.kubernetes, self.http, self.logs):
            if client is not None:
                client.close()
