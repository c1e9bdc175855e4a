"""The agent's exceptions, split by what the loop does next.

    AgentError (bot.errors; SteadfastError from core.errors)
    ├── AgentCrashed               an unexpected error inside the loop, message scrubbed
    └── ModelError                 the model API did not answer usefully
        ├── ModelRetryable         429, 529, 5xx, timeout, connection: back off and try again
        ├── ModelRejected          400/404/422: the request itself is wrong; not retried
        │   └── ContextTooLarge    400 "prompt is too long" / 413: compact, then try once more
        └── ModelAuthFailed        401/403: an admin must fix the key; the job fails

Anthropic SDK exceptions are translated into these in `bot/agent/model.py` and never travel
further.
"""

from __future__ import annotations

from bot.errors import SteadfastError


class AgentError(SteadfastError):
    pass


class AgentCrashed(AgentError):
    """Raised in place of an unexpected exception so that what the worker records and logs has
    been through the scrubber (a bug's message may quote a tool result or a header)."""


class ModelError(AgentError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ModelRetryable(ModelError):
    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after

    @property
    def kind(self) -> str:
        if self.status == 429:
            return "rate_limited"
        if self.status == 529:
            return "overloaded"
        if self.status is None:
            return "unreachable"
        return "server_error"


class ModelRejected(ModelError):
    pass


class ContextTooLarge(ModelRejected):
    pass


class ModelAuthFailed(ModelError):
    pass
