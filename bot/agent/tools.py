"""The tools the model may call: one pydantic model per tool is both the JSON schema sent to
the API and the validator for what comes back. Schemas are built once and never vary between
calls, so prompt caching applies."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.handoff.model import bare_facts


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunCommand(_Input):
    command: str = Field(description="one read-only command line, e.g. `kubectl get pods -n shop`")


class KubernetesList(_Input):
    resource: str = Field(description="pods, deployments, events, services, ...")
    namespace: str
    label_selector: str | None = None


class KubernetesGet(_Input):
    resource: str
    namespace: str
    name: str


class KubernetesLogs(_Input):
    namespace: str
    pod: str
    container: str | None = None
    tail_lines: int = Field(200, ge=1, le=5000)


class KubernetesRolloutStatus(_Input):
    namespace: str
    deployment: str


class HttpGet(_Input):
    url: str = Field(description="a platform API URL the policy allows")


class QueryLogs(_Input):
    query: str = Field(description="LogQL for Loki, query string for Elasticsearch")
    store: str | None = Field(None, description="log store name; default: the first configured")
    since_minutes: int = Field(60, ge=1, le=10_080)
    limit: int = Field(100, ge=1, le=1000)


class CheckTenantCredentials(_Input):
    pass


class NoteAssumption(_Input):
    text: str = Field(description="something you take as true without having verified it")


class AskHuman(_Input):
    question: str = Field(description="one precise question for the person who filed the ticket")


class ConfirmedFact(_Input):
    fact: str = Field(description="one fact, in a sentence")
    evidence: list[str] = Field(
        default_factory=list,
        description="the tool_use ids of the calls in this investigation you read it from",
    )


class SubmitHandoff(_Input):
    verdict: Literal["resolved", "inconclusive", "escalate"]
    summary: str
    confirmed: list[ConfirmedFact] = Field(
        default_factory=list,
        description="facts you read from successful tool calls, each citing those calls; "
        "a fact without a valid citation is shown as not verified",
    )
    could_not_reach: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    recommended_actions: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)

    @field_validator("confirmed", mode="before")
    @classmethod
    def _bare_facts(cls, value: Any) -> Any:
        return bare_facts(value)


TOOLS: dict[str, tuple[type[_Input], str]] = {
    "run_command": (
        RunCommand,
        "Run one read-only command (no shell: no pipes, redirects or `;`). The sandbox policy "
        "decides; a refused command comes back as an error with the reason and a hint.",
    ),
    "k8s_list": (KubernetesList, "List Kubernetes resources of one kind in a namespace."),
    "k8s_get": (KubernetesGet, "Read one Kubernetes resource."),
    "k8s_logs": (KubernetesLogs, "Read the last lines of a pod's log."),
    "k8s_rollout_status": (KubernetesRolloutStatus, "Rollout status of a deployment."),
    "http_get": (HttpGet, "GET a platform HTTP API (health, status, config endpoints)."),
    "query_logs": (QueryLogs, "Query a log store (Loki or Elasticsearch)."),
    "check_tenant_credentials": (
        CheckTenantCredentials,
        "Whether this ticket's tenant credentials resolve in Vault (never their values).",
    ),
    "note_assumption": (NoteAssumption, "Log an assumption; it appears in the handoff."),
    "ask_human": (
        AskHuman,
        "Ask the ticket's author one question and wait for the answer. Use only when the "
        "answer cannot be found with the other tools.",
    ),
    "submit_handoff": (
        SubmitHandoff,
        "Finish the investigation: the only way to end. `escalate` is accepted only after "
        "every reachable investigation layer was tried.",
    ),
}

# Tools that touch nothing outside the job: never guarded against repeats, never degraded.
LOCAL_TOOLS = frozenset({"note_assumption", "ask_human", "submit_handoff"})


def tool_definitions() -> list[dict[str, Any]]:
    """The `tools` array for the Messages API; the last carries `cache_control` so the whole
    tools prefix (and the system prompt before it) is cached."""
    defs: list[dict[str, Any]] = []
    for name, (model, description) in TOOLS.items():
        schema = _inline(model.model_json_schema())
        defs.append({"name": name, "description": description, "input_schema": schema})
    defs[-1]["cache_control"] = {"type": "ephemeral"}
    return defs


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with nested models written in place (no `$defs`/`$ref`) and without
    pydantic's `title`s: smaller, and read the same way by every client."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(dict(defs[ref.removeprefix("#/$defs/")]))
            return {
                k: walk(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


class ToolInputError(Exception):
    """The model's input for a tool does not fit the schema; `str()` is written for it."""


def parse_input(name: str, raw: Any) -> _Input:
    if name not in TOOLS:
        raise ToolInputError(
            f"there is no tool named {name!r}; available tools: {', '.join(TOOLS)}"
        )
    model = TOOLS[name][0]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(input)'}: {e['msg']}" for e in exc.errors()
        )
        schema = json.dumps(model.model_json_schema().get("properties", {}))
        raise ToolInputError(
            f"input for {name} does not match its schema ({problems}). "
            f"Call it again with input matching these properties: {schema}"
        ) from exc


def call_key(name: str, tool_input: Any) -> str:
    """Identity of a call for the loop guard: same tool, same canonical input."""
    return name + ":" + json.dumps(tool_input, sort_keys=True, default=str)
