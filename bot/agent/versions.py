"""What a model request ran under: the model id and sha256 hashes of the system prompt, the
tool schemas and the policy in force. Recorded on every `model_request`, so a replay can tell
which prompt and policy produced each answer, and a change mid-job is visible."""

from __future__ import annotations

import hashlib
import json
from typing import Any

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
