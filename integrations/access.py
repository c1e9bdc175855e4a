"""What the policy lets an integration touch, per tenant. Enforced here even though the agent's
tools pass the sandbox gate first: defense in depth, and fail closed (unknown tenant, empty
allowlist, missing policy: denied).

Each check here is applied together with the sandbox gate's own (`sandbox.gate.Gate`): both must
allow. The policy is re-read on every call through `policy_source`, so a reload takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any, Protocol
from urllib.parse import urlsplit

from integrations.errors import AccessDenied
from policy.document import Policy, Tenant
from sandbox.gate import Decision, Gate


class _HasCurrent(Protocol):
    def current(self) -> Policy: ...


PolicySource = Policy | Callable[[], Policy] | Any
"""A `Policy`, a zero-argument callable returning one, or a loader (`policy.loader.PolicyLoader`)
with `.current()` / `.policy`."""


def current_policy(source: PolicySource) -> Policy:
    if isinstance(source, Policy):
        return source
    for attr in ("current", "get"):
        method = getattr(source, attr, None)
        if callable(method):
            policy = method()
            if isinstance(policy, Policy):
                return policy
    policy = getattr(source, "policy", None)
    if isinstance(policy, Policy):
        return policy
    if callable(source):
        policy = source()
        if isinstance(policy, Policy):
            return policy
    raise AccessDenied("no valid policy is loaded, so every access is denied")


def _gate(decision: Decision) -> None:
    if not decision.allowed:
        raise AccessDenied(f"{decision.reason} {decision.hint}".strip())


def check_kubernetes(
    policy: Policy, resource: str, namespace: str | None, tenant: str | None
) -> None:
    """Resource allowed, and (for namespaced reads) the namespace is the tenant's."""
    check_kubernetes_resource(policy, resource)
    if namespace is not None:
        check_namespace(policy, tenant, namespace)
    _gate(Gate(policy).check_kubernetes(resource, namespace, tenant))


def tenant_of(policy: Policy, tenant: str | None) -> Tenant:
    if tenant is None:
        raise AccessDenied("this call needs a tenant; the ticket's channel maps to none")
    found = policy.tenants.get(tenant)
    if found is None:
        raise AccessDenied(f"tenant {tenant!r} is not in the policy")
    return found


def check_namespace(policy: Policy, tenant: str | None, namespace: str) -> None:
    allowed = tenant_of(policy, tenant).namespaces
    if namespace not in allowed:
        raise AccessDenied(
            f"namespace {namespace!r} is not one of tenant {tenant!r}'s namespaces "
            f"({', '.join(allowed) or 'none'})"
        )


def tenant_namespaces(policy: Policy, tenant: str | None) -> list[str]:
    return list(tenant_of(policy, tenant).namespaces)


def check_kubernetes_resource(policy: Policy, resource: str) -> None:
    if resource not in policy.kubernetes.resources:
        raise AccessDenied(
            f"reading {resource!r} is not allowed by the policy (allowed: "
            f"{', '.join(policy.kubernetes.resources) or 'none'})"
        )


def vault_templates(policy: Policy, tenant: str) -> list[str]:
    templates = list(policy.vault.paths) + list(tenant_of(policy, tenant).vault_paths)
    return [t.replace("{tenant}", tenant).strip("/") for t in templates]


def check_vault_path(policy: Policy, tenant: str | None, path: str) -> None:
    tenant_of(policy, tenant)
    assert tenant is not None
    clean = path.strip("/")
    if ".." in clean.split("/"):
        raise AccessDenied(f"vault path {path!r} contains '..'")
    if not any(fnmatchcase(clean, t) for t in vault_templates(policy, tenant)):
        raise AccessDenied(f"vault path {path!r} is not among tenant {tenant!r}'s readable paths")
    _gate(Gate(policy).check_vault_path(path, tenant))


def check_http(
    policy: Policy, tenant: str | None, url: str, method: str, *, configured: bool = False
) -> None:
    """GET/HEAD to an allowlisted host. `configured`: the URL is under an API base URL the
    operator configured (Settings), so the host is trusted config and only the host allowlist
    applies; a URL the agent chose must also pass the gate's SSRF rules (no loopback, metadata
    or private addresses) and the policy's ports."""
    method = method.upper()
    if method not in ("GET", "HEAD") or method not in policy.http.methods:
        raise AccessDenied(f"HTTP {method} is not allowed: this agent only reads (GET/HEAD)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AccessDenied(f"{url!r} is not an http(s) URL")
    host = parts.hostname.lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    patterns = list(policy.http.hosts)
    if tenant is not None and tenant in policy.tenants:
        patterns += policy.tenants[tenant].hosts
    if not any(fnmatchcase(host, p.lower()) for p in patterns):
        raise AccessDenied(f"host {host!r} is not in the policy's HTTP allowlist")
    if configured:
        return
    if port not in policy.http.ports:
        raise AccessDenied(f"port {port} is not in the policy's HTTP ports")
    _gate(Gate(policy).check_http(method, url, tenant))
