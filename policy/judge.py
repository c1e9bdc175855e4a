"""What a judge is asked and what it answers: one request type per tool kind, one `Decision`.

The gate (`sandbox.gate`) is the only implementation. Integrations receive a `Judge`, ask it
before they touch their dependency, and turn a denial into their own error at their edge;
they hold no rules of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from policy.source import PolicySource


@dataclass(frozen=True)
class Decision:
    """`argv` holds one list per pipeline stage when a command is allowed; empty otherwise.
    `reason` and `hint` are written for the model."""

    allowed: bool
    rule: str
    reason: str
    hint: str = ""
    argv: list[list[str]] = field(default_factory=list)
    merge_stderr: list[bool] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "rule": self.rule,
            "reason": self.reason,
            "hint": self.hint,
            "argv": [list(stage) for stage in self.argv],
        }


@dataclass(frozen=True)
class CommandRun:
    """A command line the model proposes (parsed with shlex, never given to a shell)."""

    command: str


@dataclass(frozen=True)
class KubernetesRead:
    """A get/list/logs read of `resource` (plural, e.g. "pods", "pods/log"); `namespace`
    None for cluster-scoped resources."""

    resource: str
    namespace: str | None


@dataclass(frozen=True)
class HttpRequest:
    """`configured`: the URL is under an API base URL the operator configured, so only the
    method and the host allowlist apply (its address may be private); a URL the model chose
    must also pass the SSRF rules and the policy's ports."""

    method: str
    url: str
    configured: bool = False


@dataclass(frozen=True)
class LogsQuery:
    """A query against the named log store; the adapter confines it to the tenant."""

    store: str


@dataclass(frozen=True)
class VaultRead:
    """A KV read of `path` ("<mount>/<path>")."""

    path: str


Request = CommandRun | KubernetesRead | HttpRequest | LogsQuery | VaultRead


class Judge(PolicySource, Protocol):
    """Decides every tool call against the policy in force (`current()`); never raises."""

    def judge(self, request: Request, tenant: str | None) -> Decision: ...
