"""Console URLs with their signed tokens, for the places that hand them out: the outbox
dispatcher (the handoff's "Open the trace"), `/steadfast console` and the demo. Each link's
life comes from the policy in force when it is made (`console.*_ttl_seconds`)."""

from __future__ import annotations

from urllib.parse import quote

from bot.console.tokens import TokenSigner
from policy.source import PolicySource


class ConsoleLinks:
    def __init__(self, signer: TokenSigner, base_url: str, policy: PolicySource) -> None:
        self.signer = signer
        self.base_url = base_url.rstrip("/")
        self._policy = policy

    def job_url(self, job_id: str, tenant: str | None) -> str:
        ttl = self._policy.current().console.link_ttl_seconds
        token = self.signer.job_token(job_id, tenant, ttl)
        return f"{self.base_url}/jobs/{quote(job_id, safe='')}?t={token}"

    def tenant_url(self, tenant: str) -> str:
        ttl = self._policy.current().console.tenant_link_ttl_seconds
        return f"{self.base_url}/?t={self.signer.tenant_token(tenant, ttl)}"
