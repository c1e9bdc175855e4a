"""The `sandbox` package's exceptions.

    SteadfastError          (core.errors)
    └── SandboxError        the sandbox cannot do what was asked; the message says what to change
        └── ExecutionRefused    the executor was handed something the gate did not allow

A *denied command* is not an exception: the gate returns a `Decision` with `allowed=False`.
An invalid policy file is `policy.errors.PolicyError`.
"""

from __future__ import annotations

from core.errors import SteadfastError


class SandboxError(SteadfastError):
    """Root of every error the sandbox raises on purpose."""


class ExecutionRefused(SandboxError):
    """The executor refuses to run a denied or malformed decision."""
