"""What a model request ran under: the model id and sha256 hashes of the system prompt, the
tool schemas and the policy in force. Recorded on every `model_request`, so a replay can tell
which prompt and policy produced each answer, and a change mid-job is visible."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.agent.prompt import system_blocks
from policy.document import Policy


def digest(value: Any) -> str:
    """sha256 of `value`'s canonical JSON (sorted keys, no whitespace): stable across runs."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def policy_digest(policy: Policy) -> str:
    return digest(policy.model_dump(mode="json"))


def request_versions(
    model: str, system: list[dict[str, Any]], tools: list[dict[str, Any]], policy: Policy
) -> dict[str, str]:
    return {
        "model": model,
        "system_prompt": digest(system),
        "tools": digest(tools),
        "policy": policy_digest(policy),
    }


class RequestStamp:
    """`system_blocks` and `request_versions` for the policy in force, worked out once per
    policy document instead of on every step: dumping and hashing a policy costs milliseconds,
    and a reload replaces the document (never edits it), so the object's identity says when
    to work them out again. Thread-safe: the memo is replaced whole."""

    def __init__(self, model: str, tools: list[dict[str, Any]]) -> None:
        self.model = model
        self._tools = digest(tools)
        self._memo: tuple[Policy, list[dict[str, Any]], dict[str, str]] | None = None

    def _for(self, policy: Policy) -> tuple[list[dict[str, Any]], dict[str, str]]:
        memo = self._memo
        if memo is None or memo[0] is not policy:
            system = system_blocks(policy)
            versions = {
                "model": self.model,
                "system_prompt": digest(system),
                "tools": self._tools,
                "policy": policy_digest(policy),
            }
            memo = self._memo = (policy, system, versions)
        return memo[1], memo[2]

    def system(self, policy: Policy) -> list[dict[str, Any]]:
        return self._for(policy)[0]

    def versions(self, policy: Policy) -> dict[str, str]:
        return dict(self._for(policy)[1])
