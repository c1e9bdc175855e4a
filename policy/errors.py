"""The `policy` package's exception.

    SteadfastError          (core.errors)
    └── PolicyError         a policy document cannot be used: file:line:col and what is wrong
"""

from __future__ import annotations

from core.errors import SteadfastError


class PolicyError(SteadfastError):
    """A policy document is invalid. `file`, `line`, `column` (1-based) locate the problem."""

    def __init__(
        self, message: str, *, file: str = "<policy>", line: int = 1, column: int = 1
    ) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}")
        self.file = file
        self.line = line
        self.column = column
        self.problem = message
