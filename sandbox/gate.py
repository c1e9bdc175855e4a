"""The gate: the one judge of every tool call, command or structured, read-only and in scope.

Every check returns a `Decision` and never raises on any input: a refusal is an answer for the
model (`reason`, `hint`), not an error. Allowed commands carry the exact argv of each pipeline
stage; the executor runs those and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from policy import forbidden
from policy.document import Policy, Tenant
from policy.judge import (
    CommandRun,
    Decision,
    HttpRequest,
    KubernetesRead,
    LogsQuery,
    Request,
    VaultRead,
)
from policy.source import PolicySource
from sandbox.argv import Parsed, parse
from sandbox.denial import Denied
from sandbox.netcheck import check_url
from sandbox.shell import split_pipeline

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SIDE_EFFECT_SEGMENTS = frozenset(
    {"creds", "issue", "sign", "sts", "token", "wrap", "unwrap", "rotate", "rotate-root"}
)
_PRIVILEGED_MOUNTS = frozenset({"sys", "auth", "cubbyhole", "identity"})


def _denied(exc: Denied) -> Decision:
    return Decision(allowed=False, rule=exc.rule, reason=exc.reason, hint=exc.hint)


def _fail_closed(check: Callable[[], Decision]) -> Decision:
    """Run a check; a refusal becomes a denied decision, and so does a bug in the gate."""
    try:
        return check()
    except Denied as exc:
        return _denied(exc)
    except Exception as exc:
        return Decision(
            allowed=False,
            rule="gate.internal_error",
            reason=f"The gate could not judge this request ({type(exc).__name__}).",
            hint="Rephrase it in a simpler read-only form.",
        )


__all__ = ["Decision", "Gate", "GateJudge"]


class GateJudge:
    """The `policy.judge.Judge` every process injects: a `Gate` on the policy in force at
    each call, so a reload takes effect at the next decision."""

    def __init__(self, source: PolicySource) -> None:
        self._source = source

    def current(self) -> Policy:
        return self._source.current()

    def judge(self, request: Request, tenant: str | None) -> Decision:
        return Gate(self._source.current()).judge(request, tenant)


class Gate:
    """Judges commands, HTTP requests, Vault paths, log queries and Kubernetes reads against
    one policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def judge(self, request: Request, tenant: str | None) -> Decision:
        """The one entry point for every tool kind."""
        if isinstance(request, CommandRun):
            return self.check_command(request.command, tenant)
        if isinstance(request, KubernetesRead):
            return self.check_kubernetes(request.resource, request.namespace, tenant)
        if isinstance(request, HttpRequest):
            if request.configured:
                return _fail_closed(
                    lambda: self._check_configured_http(request.method, request.url, tenant)
                )
            return self.check_http(request.method, request.url, tenant)
        if isinstance(request, VaultRead):
            return self.check_vault_path(request.path, tenant)
        if isinstance(request, LogsQuery):
            return _fail_closed(lambda: self._check_logs(request.store, tenant))
        return Decision(False, "gate.input", "The gate does not know this kind of request.")

    # --- commands ------------------------------------------------------------------------
    def check_command(self, command: str, tenant: str | None = None) -> Decision:
        return _fail_closed(lambda: self._check_command(command, tenant))

    def _check_command(self, command: str, tenant_name: str | None) -> Decision:
        if not isinstance(command, str):
            raise Denied("gate.input", "The command must be a string.", "")
        tenant = self._tenant(tenant_name)
        if not self.policy.commands.programs:
            raise Denied(
                "policy.empty",
                "No command policy is in force, so every command is denied.",
                "Ask an administrator to install a valid policy (steadfast policy check).",
            )
        stages = split_pipeline(command)
        argvs: list[list[str]] = []
        rules: list[str] = []
        for index, stage in enumerate(stages):
            parsed = self._stage(stage.argv, index, tenant)
            argvs.append(parsed.argv)
            rules.append(parsed.rule)
        return Decision(
            allowed=True,
            rule=" | ".join(rules),
            reason="Allowed: every stage is a read-only form the policy names.",
            hint="",
            argv=argvs,
            merge_stderr=[s.merge_stderr for s in stages],
        )

    def _tenant(self, name: str | None) -> Tenant | None:
        if name is None:
            return None
        tenant = self.policy.tenants.get(name)
        if tenant is None:
            raise Denied(
                "tenant.unknown",
                f"The tenant {name!r} is not defined in the policy, so nothing is in scope.",
                "Ask an administrator to add the tenant to the policy.",
            )
        return tenant

    def _stage(self, argv: list[str], index: int, tenant: Tenant | None) -> Parsed:
        program = argv[0]
        rules = self.policy.commands
        if _ASSIGNMENT.match(program):
            raise Denied(
                "shell.env_assignment",
                f"`{program}` sets an environment variable before the command.",
                "Drop the assignment; the sandbox supplies the environment.",
            )
        if "/" in program or program.startswith("."):
            raise Denied(
                "program.path",
                f"Programs must be named bare, not by path ({program!r}).",
                f"Write the program name alone, e.g. `{program.rsplit('/', 1)[-1]}`.",
            )
        if not program.isascii():
            raise Denied(
                "program.non_ascii",
                f"The program name {program!r} contains non-ASCII characters.",
                "Type the program name in plain ASCII.",
            )
        refusal = rules.deny_programs.get(program)
        if refusal is not None:
            raise Denied(f"program.{program}", refusal.reason, refusal.hint)
        spec = rules.programs.get(program)
        if spec is None:
            raise Denied(
                "program.not_allowed",
                f"`{program}` is not an allowed program.",
                f"Allowed programs: {', '.join(sorted(rules.programs))}.",
            )
        if index > 0 and spec.role == "source":
            raise Denied(
                f"pipeline.{program}",
                f"`{program}` may only be the first stage of a pipeline; later stages must be "
                "text filters.",
                "Run it as its own command, then filter its output.",
            )
        parsed = parse(program, spec, argv[1:])
        if program == "curl" and not {"--globoff", "-g"} & set(parsed.argv):
            # URLs may carry PromQL/LogQL braces and brackets: they are literal, never globs
            parsed.argv.insert(1, "--globoff")
        never = forbidden.check_argv(parsed.argv)
        if never is not None:  # deny wins over whatever the policy allowed
            raise Denied(never.rule, never.reason, never.hint)
        self._scope(parsed, tenant)
        return parsed

    def _scope(self, parsed: Parsed, tenant: Tenant | None) -> None:
        for use in parsed.flags:
            if use.spec.kind == "all_namespaces" and tenant is not None:
                raise Denied(
                    f"{parsed.rule} {use.name}",
                    "Reading every namespace is outside this ticket's tenant.",
                    f"Use -n with one of: {', '.join(tenant.namespaces)}.",
                )
            if use.spec.kind == "namespace" and tenant is not None:
                for value in use.values:
                    if not tenant.owns_namespace(value):
                        raise Denied(
                            f"{parsed.rule} {use.name}",
                            f"Namespace {value!r} is not one of this ticket's tenant's namespaces.",
                            f"Use one of: {', '.join(tenant.namespaces)}.",
                        )
        flag = parsed.spec.namespace_flag
        if flag and tenant is not None and not parsed.has(flag):
            if not tenant.namespaces:
                raise Denied(
                    f"{parsed.rule}.tenant",
                    "This ticket's tenant has no namespaces, so no cluster reads are in scope.",
                    "",
                )
            default = tenant.default_namespace()
            if default is None:  # a glob is not a namespace: never hand `acme-*` to the cluster
                raise Denied(
                    f"{parsed.rule}.namespace",
                    "This ticket's tenant names its namespaces by pattern, so there is no "
                    "default namespace.",
                    f"Add -n with a namespace matching one of: {', '.join(tenant.namespaces)}.",
                )
            added = [f"{flag}={default}"] if parsed.spec.emit == "equals" else [flag, default]
            parsed.argv[1:1] = added
        kind = parsed.node.positionals.kind
        for value in parsed.positionals:
            if kind == "url":
                check_url(value, self.policy.http, tenant)
            elif kind == "vault_path":
                self._vault(value, tenant)

    # --- structured tools ----------------------------------------------------------------
    def check_http(self, method: str, url: str, tenant: str | None = None) -> Decision:
        return _fail_closed(lambda: self._check_http(method, url, tenant))

    def _check_http(self, method: str, url: str, tenant: str | None) -> Decision:
        resolved = self._tenant(tenant)
        self._check_method(method)
        check_url(url, self.policy.http, resolved)
        return Decision(True, "http", f"Allowed: {method.upper()} to an allowlisted host.")

    def _check_method(self, method: str) -> None:
        """Deny wins: a mutating method is refused whatever `http.methods` lists."""
        refusal = forbidden.check_method(method)
        if refusal is not None:
            raise Denied(refusal.rule, refusal.reason, refusal.hint)
        methods = [m.upper() for m in self.policy.http.methods]
        if method.upper() not in methods:
            raise Denied(
                "http.method",
                f"HTTP {method} can change state; only {', '.join(methods)} are allowed.",
                "Read the resource with GET instead.",
            )

    def _check_configured_http(self, method: str, url: str, tenant: str | None) -> Decision:
        resolved = self._tenant(tenant)
        self._check_method(method)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise Denied("http.scheme", f"{url!r} is not an http(s) URL.", "")
        patterns = list(self.policy.http.hosts) + (list(resolved.hosts) if resolved else [])
        if not any(fnmatchcase(host, p.lower()) for p in patterns):
            raise Denied(
                "http.host",
                f"The configured API host {host!r} is not on the policy's HTTP allowlist.",
                "Ask an administrator to add the API's host to the policy's http.hosts.",
            )
        return Decision(True, "http.configured", f"Allowed: {method.upper()} to a configured API.")

    def _check_logs(self, store: str, tenant: str | None) -> Decision:
        if tenant is None:
            raise Denied(
                "logs.tenant",
                "Log queries are confined to the ticket's tenant, and this ticket has none.",
                "Ask an administrator to map the channel to a tenant in the policy.",
            )
        self._tenant(tenant)
        return Decision(True, "logs", f"Allowed: query {store} within tenant {tenant!r}.")

    def check_vault_path(self, path: str, tenant: str | None) -> Decision:
        def check() -> Decision:
            if tenant is None:  # structured reads fail closed
                raise Denied(
                    "vault.tenant",
                    "Vault reads are confined to the ticket's tenant, and this ticket has none.",
                    "Ask an administrator to map the ticket's channel to a tenant in the policy.",
                )
            self._vault(path, self._tenant(tenant))
            return Decision(True, "vault.path", "Allowed: metadata of a readable Vault path.")

        return _fail_closed(check)

    def _vault(self, path: str, tenant: Tenant | None) -> None:
        clean = path.strip("/")
        segments = clean.split("/")
        if (
            not clean
            or not clean.isascii()
            or any(s in ("", ".", "..") for s in segments)
            or re.search(r"[^A-Za-z0-9._/@+=-]", clean)
        ):
            raise Denied(
                "vault.path",
                f"The Vault path {path!r} is not a plain path.",
                "Write it as mount/path, e.g. secret/<tenant>/app.",
            )
        if segments[0] in _PRIVILEGED_MOUNTS or _SIDE_EFFECT_SEGMENTS & set(segments):
            raise Denied(
                "vault.side_effect",
                f"Reading {path!r} would issue credentials or touch Vault's own configuration.",
                "Check that the path exists with `vault kv metadata get` on a KV path instead.",
            )
        templates = list(self.policy.vault.paths) + (list(tenant.vault_paths) if tenant else [])
        names = [n for n, t in self.policy.tenants.items() if t is tenant] if tenant else []
        patterns = []
        for template in templates:
            if "{tenant}" in template:
                patterns += [template.replace("{tenant}", n) for n in names]
            else:
                patterns.append(template)
        if not any(
            fnmatchcase(clean, p.strip("/")) or fnmatchcase(clean + "/", p) for p in patterns
        ):
            raise Denied(
                "vault.path",
                f"The Vault path {path!r} is not readable under the policy.",
                "Readable paths: " + (", ".join(patterns) or "none for this ticket") + ".",
            )

    def check_kubernetes(
        self, resource: str, namespace: str | None, tenant: str | None
    ) -> Decision:
        return _fail_closed(lambda: self._check_kubernetes(resource, namespace, tenant))

    def _check_kubernetes(
        self, resource: str, namespace: str | None, tenant: str | None
    ) -> Decision:
        resolved = self._tenant(tenant)
        kind = resource.strip().lower()
        if "secret" in kind:
            raise Denied(
                "kubernetes.secrets",
                "Secrets are never read: their values must not reach the model.",
                "Check the pod's events or the secret's existence from `kubectl describe pod`.",
            )
        if kind not in [r.lower() for r in self.policy.kubernetes.resources]:
            raise Denied(
                "kubernetes.resource",
                f"Reading {resource!r} is not allowed by the policy.",
                "Readable: " + ", ".join(self.policy.kubernetes.resources) + ".",
            )
        cluster_scoped = kind in [r.lower() for r in self.policy.kubernetes.cluster_resources]
        if kind == "namespaces" and namespace is not None:
            cluster_scoped = False  # reading one namespace object: that namespace must be in scope
        if resolved is None and not cluster_scoped:  # structured reads fail closed
            raise Denied(
                "kubernetes.tenant",
                "Namespaced reads are confined to the ticket's tenant, and this ticket has none.",
                "Ask an administrator to map the ticket's channel to a tenant in the policy.",
            )
        if resolved is not None and not cluster_scoped:
            if namespace is None or not resolved.owns_namespace(namespace):
                raise Denied(
                    "kubernetes.namespace",
                    f"Namespace {namespace!r} is outside this ticket's tenant.",
                    f"Use one of: {', '.join(resolved.namespaces)}.",
                )
        return Decision(True, "kubernetes", f"Allowed: read {resource}.")
