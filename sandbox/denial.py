"""The gate's internal way to stop at the first refusal (never escapes `Gate`)."""

from __future__ import annotations


class Denied(Exception):
    """A refusal: `rule` names what matched; `reason` and `hint` are written for the model."""

    def __init__(self, rule: str, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason
        self.hint = hint
