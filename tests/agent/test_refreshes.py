"""A credential refresh during a tool call is a `token_refreshed` event, shown by replay."""

from __future__ import annotations

from typing import Any

from bot import timeline
from bot.agent.refreshes import RefreshEvents
from tests.agent.conftest import Kit
from tests.agent.fakes import FakeContext, FakeVault, make_job


class RotatingVault(FakeVault):
    """Answers like Vault after its token was rejected once and a fresh login succeeded: the
    integration tells its observer, as `integrations.vault.VaultClient` does."""

    def __init__(self, on_refresh: Any) -> None:
        super().__init__()
        self.on_refresh = on_refresh

    def check_credentials(self, tenant: str) -> Any:
        self.on_refresh("vault", "re-login (approle): token rejected")
        return super().check_credentials(tenant)


def test_refresh_during_a_call_is_an_event_before_its_result(make_kit: Any) -> None:
    refreshes = RefreshEvents()
    refreshes.record("kubernetes", "stale: heard outside any call of this job")
    kit: Kit = make_kit(vault=RotatingVault(refreshes.record))
    agent = kit.agent()
    agent.toolbox.refreshes = refreshes
    ctx = FakeContext(make_job("scenario:ledger"))
    agent.run(ctx)

    [event] = ctx.of("token_refreshed")
    assert event.data["dependency"] == "vault" and event.data["name"] == "check_tenant_credentials"
    [result] = [
        e for e in ctx.of("tool_result") if e.data["tool_use_id"] == event.data["tool_use_id"]
    ]
    assert event.seq < result.seq
    assert "vault: re-login (approle): token rejected" in timeline.line(event)
