"""An Anthropic Messages API emulator that plays scripted investigations.

`POST /v1/messages` takes and returns the real shapes (content blocks `text` / `tool_use`,
`stop_reason`, `usage` with the cache fields, errors as `{"type": "error", "error": {...}}`).
Conversations are tracked per job: the caller puts the job id in `metadata.user_id`.

Scenario (`anthropic:` section of a scenario YAML)::

    anthropic:
      api_key: sk-test           # optional: any other x-api-key gets 401
      models: [claude-x]         # optional: what GET /v1/models/{id} finds (default: claude-*)
      latency_ms: 0              # added to every answer
      scripts:
        - name: checkout
          match: "checkout"      # regex on the ticket (first user message); first match wins
          steps:                 # answer N is steps[N-1]; N = assistant turns so far + 1
            - text: "Broad signals first."
              tool: k8s_list      # shorthand for one tool_use block
              input: {resource: pods, namespace: shop}
            - tools: [{name: http_get, input: {url: "http://x"}}, ...]   # several at once
              fault: {mode: "429", retry_after: 0.1, times: 1}          # first N tries of it
          rules:                 # checked first: keyed on the latest tool result
            - tool: run_command  # optional: the tool that produced it
              contains: "read-only"
              respond: {tool: submit_handoff, input: {...}}

Tool inputs may cite the calls this emulator answered earlier: a string `{{step 4}}` becomes
the id of the first tool_use it sent at step 4 of this job, `{{step 4.1}}` the second, and
`{{step 4 of JOB}}` one from another job (a scripted model that cites foreign evidence).

Step fault modes: 429, 529, 500, 400, 401, 413, timeout (sleep `delay_ms`, then no answer),
malformed (the tool input is replaced by something that fits no schema).

The same conversations are served on Amazon Bedrock's and Google Vertex AI's paths (see
`emulators.anthropic_clouds`, which also has their scenario keys and the token endpoint).

Control (besides the base knobs): `GET /_control/state` → per-job request counts and how many
repeated a conversation already answered; `POST /_control/hold {"job", "step"}` parks that
request until `POST /_control/release {"job", "drop": bool}` (drop: answer nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulators.anthropic_clouds import CloudRoutes
from emulators.base import Emulator, Fault, Request, Response, load_scenario, serve_forever

SCENARIO_DIR = Path(__file__).parent / "scenarios"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
    }


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


@dataclass
class JobRecord:
    requests: int = 0
    repeated: int = 0
    answered: set[str] = field(default_factory=set)
    fault_hits: dict[int, int] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)  # the step index of every request, in order


@dataclass
class Hold:
    step: int
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    drop: bool = False


class AnthropicEmulator(Emulator):
    name = "anthropic"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        section = self.scenario.get("anthropic") or {}
        self.api_key: str | None = section.get("api_key")
        self.latency_ms: int = int(section.get("latency_ms", 0))
        self.scripts: list[dict[str, Any]] = list(section.get("scripts") or [])
        self.models: list[str] | None = (
            list(section["models"]) if section.get("models") is not None else None
        )
        self.jobs: dict[str, JobRecord] = {}
        self.holds: dict[str, Hold] = {}
        self._cached_prefixes: set[str] = set()
        self._state_lock = threading.Lock()
        self.route("POST", "/v1/messages", self.messages)
        self.route("GET", "/v1/models/(?P<model>[^/]+)", self.model_info)
        self.clouds = CloudRoutes(self, section)  # before the catch-all: Vertex is under /v1
        # the API answers unknown paths with its own error envelope, not a bare 404
        self.route("*", "/v1/.*", lambda r: Response(404, error_body(404, "Not found")))
        self._request_ids = itertools.count(1)

    def dispatch(self, request: Request) -> Response:
        response = self.clouds.shaped(request, super().dispatch(request))
        # every API answer carries one (the SDK exposes it as `_request_id` for support)
        response.headers.setdefault("request-id", f"req_emulated{next(self._request_ids):012d}")
        return response

    # --- the API --------------------------------------------------------------------------
    def _refused(self, request: Request) -> Response | None:
        # the key arrives as `x-api-key` or, from newer SDKs and OAuth clients, as a bearer token
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if self.api_key is not None and self.api_key not in (
            request.headers.get("x-api-key"),
            bearer,
        ):
            return Response(401, error_body(401, "invalid x-api-key"))
        return None

    def model_info(self, request: Request) -> Response:
        """`GET /v1/models/{id}` (the SDK's `models.retrieve`). Without a `models` list every
        `claude-*` id exists, as tests that invent model names expect."""
        refused = self._refused(request)
        if refused is not None:
            return refused
        model = request.params["model"]
        known = model.startswith("claude-") if self.models is None else model in self.models
        if not known:
            return Response(404, error_body(404, f"model: {model}"))
        body = {
            "type": "model",
            "id": model,
            "display_name": model,
            "created_at": "2026-01-01T00:00:00Z",
        }
        return Response(200, body)

    def messages(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            body = request.json()
        except ValueError:
            return Response(400, error_body(400, "request body is not valid JSON"))
        return self.converse(body)

    def converse(self, body: Any) -> Response:
        """Answer one Messages API body (whichever provider's path it came in on)."""
        problem = validate(body)
        if problem:
            return Response(400, error_body(400, problem))
        job = str((body.get("metadata") or {}).get("user_id") or "anonymous")
        messages = body["messages"]
        step = 1 + sum(1 for m in messages if m["role"] == "assistant") + compacted(messages)
        key = digest(messages)
        with self._state_lock:
            record = self.jobs.setdefault(job, JobRecord())
            record.requests += 1
            record.steps.append(step)
            if key in record.answered:
                record.repeated += 1
            hold = self.holds.get(job)
        if hold is not None and hold.step == step:
            hold.arrived.set()
            hold.released.wait()
            with self._state_lock:
                self.holds.pop(job, None)
            if hold.drop:
                return Response(500, error_body(500, "dropped by the test harness"))
        script = self.script_for(messages)
        if script is None:
            return Response(400, error_body(400, "emulator: no script matches this ticket"))
        spec = self.choose(script, messages, step)
        if spec is None:
            return Response(
                400, error_body(400, f"emulator: script {script['name']} has no step {step}")
            )
        fault = spec.get("fault")
        malformed = False
        if fault and self._fault_due(record, step, fault):
            failed = self._step_fault(fault)
            if failed is not None:
                return failed
            malformed = True
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        response = self.answer(body, job, step, spec, malformed=malformed)
        with self._state_lock:
            record.answered.add(key)
        return Response(200, response)

    def script_for(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        ticket = _text_of(messages[0]["content"]) if messages else ""
        for script in self.scripts:
            if re.search(str(script.get("match", "")), ticket, re.IGNORECASE):
                return script
        return None

    def choose(
        self, script: dict[str, Any], messages: list[dict[str, Any]], step: int
    ) -> dict[str, Any] | None:
        last = _last_tool_result(messages)
        if last is not None:
            tool, text = last
            for rule in script.get("rules") or []:
                if rule.get("tool") not in (None, tool):
                    continue
                if str(rule.get("contains", "")) in text:
                    return dict(rule["respond"])
        steps = script.get("steps") or []
        return dict(steps[step - 1]) if 0 < step <= len(steps) else None

    def _fault_due(self, record: JobRecord, step: int, fault: dict[str, Any]) -> bool:
        with self._state_lock:
            hits = record.fault_hits.get(step, 0)
            if hits >= int(fault.get("times", 1)):
                return False
            record.fault_hits[step] = hits + 1
            return True

    def _step_fault(self, fault: dict[str, Any]) -> Response | None:
        mode = str(fault["mode"])
        if mode == "malformed":
            return None
        if mode == "timeout":
            time.sleep(float(fault.get("delay_ms", 30_000)) / 1000)
            return Response(504, error_body(500, "injected timeout"))
        status = int(mode)
        headers = (
            {"retry-after": f"{float(fault.get('retry_after', 1)):g}"} if status == 429 else {}
        )
        message = str(fault.get("message", f"injected {mode}"))
        if status == 400 and fault.get("too_long"):
            message = "prompt is too long: 250000 tokens > 200000 maximum"
        return Response(status, error_body(status, message), headers)

    def answer(
        self, body: dict[str, Any], job: str, step: int, spec: dict[str, Any], *, malformed: bool
    ) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if spec.get("text"):
            content.append({"type": "text", "text": str(spec["text"])})
        uses = list(spec.get("tools") or [])
        if spec.get("tool"):
            uses.insert(0, {"name": spec["tool"], "input": spec.get("input") or {}})
        for i, use in enumerate(uses):
            tool_input = (
                {"unexpected": "garbage"} if malformed else cite(use.get("input") or {}, job)
            )
            content.append(
                {
                    "type": "tool_use",
                    "id": tool_use_id(job, step, i),
                    "name": use["name"],
                    "input": tool_input,
                }
            )
        return {
            "id": "msg_" + digest([job, step, "msg"])[:20],
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": spec.get("stop_reason") or ("tool_use" if uses else "end_turn"),
            "stop_sequence": None,
            "usage": self.usage(body, content),
        }

    def usage(self, body: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, Any]:
        """Rough token counts (4 chars a token); the cached prefix is system + tools when the
        request marks them with `cache_control`, written once, then read."""
        prefix = {"system": body.get("system"), "tools": body.get("tools")}
        prefix_tokens = len(json.dumps(prefix)) // 4
        rest_tokens = len(json.dumps(body["messages"])) // 4
        marked = "cache_control" in json.dumps(prefix)
        created = read = 0
        if marked:
            key = digest(prefix)
            with self._state_lock:
                if key in self._cached_prefixes:
                    read = prefix_tokens
                else:
                    self._cached_prefixes.add(key)
                    created = prefix_tokens
        return {
            "input_tokens": rest_tokens + (0 if marked else prefix_tokens),
            "output_tokens": max(1, len(json.dumps(content)) // 4),
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
        }

    # --- base-class hooks -----------------------------------------------------------------
    def fault_response(self, fault: Fault, request: Request) -> Response:
        return self.clouds.shaped(request, self._fault_response(fault))

    def _fault_response(self, fault: Fault) -> Response:
        if fault.mode == "429":
            return Response(
                429, error_body(429, "rate limited"), {"retry-after": f"{fault.retry_after:g}"}
            )
        if fault.mode == "expired_token":
            return Response(401, error_body(401, "invalid x-api-key"))
        status = int(fault.mode)
        return Response(status, error_body(status, f"injected {fault.mode}"))

    def control(self, request: Request) -> Response:
        action = request.path.removeprefix("/_control/")
        if action == "hold" and request.method == "POST":
            body = request.json() or {}
            self.hold(str(body["job"]), int(body["step"]))
            return Response(200, {"held": sorted(self.holds)})
        if action == "release" and request.method == "POST":
            body = request.json() or {}
            self.release(str(body["job"]), drop=bool(body.get("drop", False)))
            return Response(200, {"held": sorted(self.holds)})
        return super().control(request)

    def state(self) -> dict[str, Any]:
        with self._state_lock:
            jobs = {
                job: {"requests": r.requests, "repeated": r.repeated, "steps": list(r.steps)}
                for job, r in self.jobs.items()
            }
            waiting = sorted(j for j, h in self.holds.items() if h.arrived.is_set())
        return {"requests": len(self.requests), "jobs": jobs, "held": waiting}

    # --- in-process helpers for tests -----------------------------------------------------
    def hold(self, job: str, step: int) -> Hold:
        with self._state_lock:
            self.holds[job] = hold = Hold(step=step)
        return hold

    def release(self, job: str, *, drop: bool = False) -> None:
        with self._state_lock:
            hold = self.holds.get(job)
        if hold is not None:
            hold.drop = drop
            hold.released.set()

    def job_state(self, job: str) -> dict[str, int]:
        with self._state_lock:
            r = self.jobs.get(job, JobRecord())
            return {"requests": r.requests, "repeated": r.repeated}


def tool_use_id(job: str, step: int, index: int = 0) -> str:
    """The id of the `index`-th tool_use this emulator sends at `step` of `job`."""
    return "toolu_" + digest([job, step, index])[:20]


_CITE = re.compile(r"\{\{\s*step\s+(\d+)(?:\.(\d+))?(?:\s+of\s+(\S+?))?\s*\}\}")


def cite(value: Any, job: str) -> Any:
    """`value` with every `{{step N[.i] [of JOB]}}` replaced by that tool_use id."""
    if isinstance(value, str):
        return _CITE.sub(
            lambda m: tool_use_id(m.group(3) or job, int(m.group(1)), int(m.group(2) or 0)), value
        )
    if isinstance(value, list):
        return [cite(v, job) for v in value]
    if isinstance(value, dict):
        return {k: cite(v, job) for k, v in value.items()}
    return value


def validate(body: Any) -> str | None:
    """The checks the real API makes that catch a badly rebuilt conversation."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    for key in ("model", "max_tokens", "messages"):
        if key not in body:
            return f"{key}: Field required"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    pending: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            return f"messages.{i}.role: roles must alternate user/assistant, starting with user"
        blocks = message.get("content")
        if isinstance(blocks, str):
            blocks = [{"type": "text", "text": blocks}]
        if not blocks:
            return f"messages.{i}: content must be non-empty"
        results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if pending and set(results) != pending:
            return (
                f"messages.{i}: tool_use ids {sorted(pending)} were found without "
                "tool_result blocks immediately after"
            )
        if results and not pending:
            return f"messages.{i}: unexpected tool_use_id found in tool_result blocks"
        pending = {b["id"] for b in blocks if b.get("type") == "tool_use"}
    if messages[-1]["role"] != "user":
        return "the final message must have role user"
    return None


_COMPACTED = re.compile(r"\[compacted through step (\d+)\]")


def compacted(messages: list[dict[str, Any]]) -> int:
    """Steps folded into a summary by the client (Steadfast marks them in the first message),
    so a compacted conversation still maps to the right scripted step."""
    found = _COMPACTED.search(_text_of(messages[0]["content"]))
    return int(found.group(1)) if found else 0


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            parts.append(_text_of(block.get("content") or ""))
    return "\n".join(parts)


def _last_tool_result(messages: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(tool name, result text) of the newest tool_result, looking up the tool by id."""
    names: dict[str, str] = {}
    last: tuple[str, str] | None = None
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            continue
        for block in content:
            if block.get("type") == "tool_use":
                names[block["id"]] = block["name"]
            elif block.get("type") == "tool_result":
                last = (names.get(block["tool_use_id"], ""), _text_of(block.get("content") or ""))
    return last


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.anthropic")
    parser.add_argument("--scenario", type=Path, default=None, help="scenario YAML")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    serve_forever(AnthropicEmulator(load_scenario(args.scenario), port=args.port))


if __name__ == "__main__":
    main()
