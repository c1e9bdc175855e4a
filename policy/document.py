"""The policy document admins own (`policies/*.yaml`), as a validated pydantic model.

CONTRACT: other packages read the sections below by these names. The `commands` section is
the gate's own (`policy/rules.py`); the others are shared. Unknown keys are errors.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from policy.rules import CommandRules


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpPolicy(_Strict):
    hosts: list[str] = Field(default_factory=list, description="glob patterns, e.g. '*.svc'")
    ports: list[int] = Field(default_factory=lambda: [80, 443])
    methods: list[str] = Field(default_factory=lambda: ["GET", "HEAD"])


class VaultPolicy(_Strict):
    paths: list[str] = Field(
        default_factory=list,
        description="readable path templates; '{tenant}' is substituted; glob '*' allowed",
    )


class KubernetesPolicy(_Strict):
    resources: list[str] = Field(default_factory=list, description="e.g. pods, pods/log, events")
    cluster_resources: list[str] = Field(
        default_factory=lambda: ["nodes", "namespaces"],
        description="cluster-scoped resources a tenant may read without a namespace",
    )


class Tenant(_Strict):
    channels: list[str] = Field(default_factory=list, description="Slack channel ids")
    namespaces: list[str] = Field(default_factory=list)
    vault_paths: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)


class OperatorGrant(_Strict):
    users: list[str] = Field(default_factory=list)
    usergroups: list[str] = Field(default_factory=list)
    actions: list[str] = Field(
        default_factory=lambda: ["cancel", "pause", "resume", "retry", "approve", "answer"]
    )


class Operators(_Strict):
    grants: list[OperatorGrant] = Field(default_factory=list)

    def allowed(self, user: str, usergroups: list[str], action: str) -> bool:
        """Fail closed: nobody may act unless a grant names them and the action."""
        return any(
            action in g.actions and (user in g.users or any(u in g.usergroups for u in usergroups))
            for g in self.grants
        )


class Approvals(_Strict):
    tools: list[str] = Field(default_factory=list, description="tool names that need a human yes")
    commands: list[str] = Field(default_factory=list, description="command globs that need a yes")


class Route(_Strict):
    channel: str
    usergroup: str | None = None
    tenants: list[str] = Field(default_factory=list, description="empty: the default route")


class Escalation(_Strict):
    weights: dict[str, float] = Field(
        default_factory=lambda: {"uncertainty": 0.4, "novelty": 0.3, "intervention_benefit": 0.3}
    )
    threshold: float = 0.6
    routes: list[Route] = Field(default_factory=list)

    def route_for(self, tenant: str | None) -> Route | None:
        for route in self.routes:
            if tenant is not None and tenant in route.tenants:
                return route
        return next((r for r in self.routes if not r.tenants), None)


class Budgets(_Strict):
    steps: int = 40
    wall_seconds: float = 900
    tokens: int = 400_000
    drift_after_seconds: float = Field(
        default=1800, description="re-check state after a wait this long"
    )


class Limits(_Strict):
    command_timeout_seconds: float = 20
    output_cap_bytes: int = 65_536
    model_output_cap_chars: int = 8_000


class Layer(_Strict):
    name: str
    description: str = ""
    tools: list[str] = Field(default_factory=list)


class Policy(_Strict):
    version: int = 1
    commands: CommandRules = Field(default_factory=CommandRules)
    http: HttpPolicy = Field(default_factory=HttpPolicy)
    vault: VaultPolicy = Field(default_factory=VaultPolicy)
    kubernetes: KubernetesPolicy = Field(default_factory=KubernetesPolicy)
    tenants: dict[str, Tenant] = Field(default_factory=dict)
    operators: Operators = Field(default_factory=Operators)
    approvals: Approvals = Field(default_factory=Approvals)
    escalation: Escalation = Field(default_factory=Escalation)
    budgets: Budgets = Field(default_factory=Budgets)
    limits: Limits = Field(default_factory=Limits)
    layers: list[Layer] = Field(
        default_factory=list, description="investigation layers, cheap first"
    )

    def tenant_for_channel(self, channel: str | None) -> str | None:
        for name, tenant in self.tenants.items():
            if channel is not None and channel in tenant.channels:
                return name
        return None
