"""The integrations one process has, held together for health checks and closing. They are
built from configuration by the one factory in `bot/wiring.py`."""

from __future__ import annotations

from dataclasses import dataclass

from core.scrubber import Scrubber
from integrations.health import Health, check_all
from integrations.http import HttpClient
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

    def health(self) -> list[Health]:
        return check_all(self)

    def close(self) -> None:
        for client in (self.vault, self.kubernetes, self.http, self.logs):
            if client is not None:
                client.close()
