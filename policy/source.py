"""Where the policy in force comes from: one type for every reader.

`PolicyLoader` (hot reload from a file) is the production source; `FixedPolicy` serves one
document (tests, `policy explain`, the demo's in-memory policy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from policy.document import Policy


class PolicySource(Protocol):
    def current(self) -> Policy:
        """The policy in force now; read it at each decision so a reload takes effect at once."""
        ...


@dataclass(frozen=True)
class FixedPolicy:
    """A source that always answers with the same document."""

    policy: Policy

    def current(self) -> Policy:
        return self.policy
