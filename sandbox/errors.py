"""The `sandbox` package's exceptions.

    SandboxError            the sandbox cannot do what was asked; the message says what to change
    ├── PolicyError         a policy file cannot be used (file:line:col and what is wrong)
    └── ExecutionRefused    the executor was handed something the gate did not allow

A *denied command* is not an exception: the gate returns a `Decision` with `allowed=False`.
These errors are for callers that misuse the sandbox or for policies an admin must fix.
"""

from __future__ import annotations

from bot.errors import SteadfastError


class SandboxError(SteadfastError):
    """Root of every error the sandbox raises on purpose."""


class PolicyError(SandboxError):
    """A policy document is invalid. `file`, `line`, `column` (1-based) locate the problem."""

    def __init__(
        self, message: str, *, file: str = "<policy>", line: int = 1, column: int = 1
    ) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}")
        self.file = file
        self.line = line
        self.column = column
        self.problem = message


class ExecutionRefused(SandboxError):
    """The executor refuses to run a denied or malformed decision."""
