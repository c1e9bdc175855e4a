"""The console's exceptions, under the one root in `core.errors`.

SteadfastError
└── ConsoleError
    └── AccessDenied     a token is missing, malformed, tampered, expired or out of scope
"""

from __future__ import annotations

from core.errors import SteadfastError


class ConsoleError(SteadfastError):
    pass


class AccessDenied(ConsoleError):
    """The page answers 403. The message is for the log and never holds the token."""
