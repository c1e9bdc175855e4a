"""The policy document admins own (`policies/*.yaml`), as a validated pydantic model.

CONTRACT: other packages read the sections below by these names. The `commands` section is
the gate's own (`policy/rules.py`); the others are shared. Unknown keys are errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from policy.alerts import AlertRoute, route_for
from policy.rules import CommandRules


def is_glob(pattern: str) -> bool:
    """Whether a namespace entry is a pattern rather than one name."""
    return any(c in pattern for c in "*?[")

Port = Annotated[int, Field(ge=1, le=65535)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_catch_all(hosts: list[str]) -> list[str]:
    for pattern in hosts:
        if not pattern.strip() or re.fullmatch(r"[*?.\[\]!-]*", pattern):
            raise ValueError(
                f"host pattern {pattern!r} matches every host; name the domain, e.g. '*.svc'"
            )
    return hosts


class HttpPolicy(_Strict):
    hosts: list[str] = Field(default_factory=list, description="glob patterns, e.g. '*.svc'")
    ports: list[Port] = Field(default_factory=lambda: [80, 443], description="1-65535")
    methods: list[str] = Field(default_factory=lambda: ["GET", "HEAD"])

    _hosts = field_validator("hosts")(_no_catch_all)


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
    namespaces: list[str] = Field(
        default_factory=list, description="namespace names or globs, e.g. 'acme-*'"
    )
    vault_paths: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)

    _hosts = field_validator("hosts")(_no_catch_all)
    # The one meaning of a tenant's namespace entries: each is a glob (fnmatch, case-sensitive,
    # as Kubernetes names are); a plain name is a glob that matches only itself.
    def owns_namespace(self, namespace: str) -> bool:
        return any(fnmatchcase(namespace, pattern) for pattern in self.namespaces)

    def namespaces_in(self, existing: Iterable[str]) -> list[str]:
        """The tenant's namespaces among those that exist (globs expanded), sorted."""
        return sorted({name for name in existing if self.owns_namespace(name)})

    def default_namespace(self) -> str | None:
        """The first entry that names one namespace (not a glob), if any."""
        return next((ns for ns in self.namespaces if not is_glob(ns)), None)


class OperatorGrant(_Strict):
    users: list[str] = Field(default_factory=list)
    usergroups: list[str] = Field(default_factory=list)
    actions: list[str] = Field(
        default_factory=lambda: [
            "cancel",
            "pause",
            "resume",
            "retry",
            "approve",
            "answer",
            "console",  # `/steadfast console`: a tenant link to the read-only trace console
        ]
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


# A PagerDuty routing key is 32 characters, an Opsgenie API key a UUID: a `key` that looks like
# either is a credential pasted into the policy, which every reader of the policy can see.
_LOOKS_LIKE_A_KEY = re.compile(r"[A-Za-z0-9]{32}|[0-9a-fA-F-]{36}")


class PageTarget(_Strict):
    """One pager an escalation route pages besides its Slack thread. `key` names a secret in
    the settings (`STEADFAST_PAGING_KEYS` / `STEADFAST_PAGING_KEYS_DIR`); the credential itself
    never appears in the policy."""

    service: Literal["pagerduty", "opsgenie"]
    key: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="name of the routing key (PagerDuty) or API key (Opsgenie) in the settings",
    )
    severity: Literal["critical", "error", "warning", "info"] = Field(
        default="critical",
        description="PagerDuty payload.severity; Opsgenie priority P1 (critical) to P4 (info)",
    )

    @field_validator("key")
    @classmethod
    def _a_name_not_a_secret(cls, key: str) -> str:
        if _LOOKS_LIKE_A_KEY.fullmatch(key):
            raise ValueError(
                "this looks like the key itself; put it in STEADFAST_PAGING_KEYS (or a file in "
                "STEADFAST_PAGING_KEYS_DIR) under a name and write that name here"
            )
        return key


class Route(_Strict):
    channel: str
    usergroup: str | None = None
    tenants: list[str] = Field(default_factory=list, description="empty: the default route")
    pages: list[PageTarget] = Field(
        default_factory=list,
        description="pagers paged (and resolved when a retried job succeeds) with the thread",
    )


class Escalation(_Strict):
    weights: dict[str, float] = Field(
        default_factory=lambda: {"uncertainty": 0.4, "novelty": 0.3, "intervention_benefit": 0.3}
    )
    threshold: float = Field(default=0.6, ge=0, le=1)
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
    tenant_daily_usd: float | None = Field(
        default=None,
        gt=0,
        description="a tenant's model spend per UTC day; past it jobs escalate, not spend",
    )
    drift_after_seconds: float = Field(
        default=1800, description="re-check state after a wait this long"
    )


class Waits(_Strict):
    """How long a job waits for a human (an answer or an approval) before acting on its own."""

    remind_after: float = Field(
        default=3600, gt=0, description="seconds before a reminder is posted in the thread"
    )
    give_up_after: float = Field(
        default=86400, gt=0, description="seconds before the job escalates with what it has"
    )


class Limits(_Strict):
    command_timeout_seconds: float = Field(default=20, gt=0)
    output_cap_bytes: int = Field(default=65_536, ge=1)
    model_output_cap_chars: int = Field(default=8_000, ge=1)


class Console(_Strict):
    """How long the trace console's signed links stay valid (docs/console.md)."""

    link_ttl_seconds: float = Field(
        default=7 * 86400,
        gt=0,
        le=90 * 86400,
        description="a job link's life: the 'Open the trace' link in each handoff",
    )
    tenant_link_ttl_seconds: float = Field(
        default=3600,
        gt=0,
        le=7 * 86400,
        description="a tenant link's life: what `/steadfast console` hands an operator",
    )


class Layer(_Strict):
    name: str
    description: str = ""
    tools: list[str] = Field(default_factory=list)


class Policy(_Strict):
    version: Literal[1] = Field(default=1, description="the policy format; only 1 exists")
    commands: CommandRules = Field(default_factory=CommandRules)
    http: HttpPolicy = Field(default_factory=HttpPolicy)
    vault: VaultPolicy = Field(default_factory=VaultPolicy)
    kubernetes: KubernetesPolicy = Field(default_factory=KubernetesPolicy)
    tenants: dict[str, Tenant] = Field(default_factory=dict)
    operators: Operators = Field(default_factory=Operators)
    approvals: Approvals = Field(default_factory=Approvals)
    escalation: Escalation = Field(default_factory=Escalation)
    budgets: Budgets = Field(default_factory=Budgets)
    waits: Waits = Field(default_factory=Waits)
    limits: Limits = Field(default_factory=Limits)
    console: Console = Field(default_factory=Console)
    layers: list[Layer] = Field(
        default_factory=list, description="investigation layers, cheap first"
    )
    alert_routes: list[AlertRoute] = Field(
        default_factory=list,
        description="Alertmanager alerts to investigate: label matchers → tenant and Slack "
        "channel; first match wins, an alert no route matches is not investigated",
    )

    @field_validator("alert_routes")
    @classmethod
    def _known_tenants(cls, routes: list[AlertRoute], info: ValidationInfo) -> list[AlertRoute]:
        tenants = info.data.get("tenants") or {}
        for route in routes:
            if route.tenant is not None and route.tenant not in tenants:
                known = ", ".join(sorted(tenants)) or "none defined"
                raise ValueError(
                    f"alert route tenant {route.tenant!r} is not under `tenants` ({known})"
                )
            owned = any(route.channel in t.channels for t in tenants.values())
            if route.tenant is None and tenants and not owned:
                raise ValueError(
                    f"alert route to channel {route.channel!r} names no tenant and the channel "
                    "is not under any `tenants.<name>.channels`; set `tenant`"
                )
        return routes

    def alert_route_for(self, labels: Mapping[str, str]) -> AlertRoute | None:
        return route_for(self.alert_routes, labels)

    def vault_templates(self, tenant: str) -> list[str]:
        """The Vault path templates readable for `tenant`, with `{tenant}` filled in."""
        found = self.tenants.get(tenant)
        templates = list(self.vault.paths) + (list(found.vault_paths) if found else [])
        return [t.replace("{tenant}", tenant).strip("/") for t in templates]

    def tenant_for_channel(self, channel: str | None) -> str | None:
        for name, tenant in self.tenants.items():
            if channel is not None and channel in tenant.channels:
                return name
        return None
