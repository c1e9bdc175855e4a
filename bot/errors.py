"""The `bot` package's exceptions, under the one root in `core.errors`.

    SteadfastError           (core.errors; re-exported here)
    ├── ConfigError          settings or environment cannot work; the message names the variable
    ├── StoreError           the database refused or is unreachable
    │   └── MigrationError
    ├── JobNotFound          no job with that id
    ├── IllegalTransition    the operator asked for a move the lifecycle forbids
    ├── NotWaiting           a human reply for a job not waiting for that kind of reply
    ├── LeaseLost            this worker no longer owns the job: stop, write nothing more
    ├── LeadershipLost       this process no longer holds a leader lease (outbox sender)
    ├── StopRequested        the job must stop at this step boundary (pause, cancel, shutdown)
    └── AgentError           the agent loop (`bot/agent/errors.py` draws its subtree)

The CLI prints `str(error)` and exits 1 for any `SteadfastError`, whichever package raised it.
"""

from __future__ import annotations

from core.errors import SteadfastError

__all__ = [
    "ConfigError",
    "IllegalTransition",
    "JobNotFound",
    "LeadershipLost",
    "LeaseLost",
    "MigrationError",
    "NotWaiting",
    "SteadfastError",
    "StopRequested",
    "StoreError",
]


class ConfigError(SteadfastError):
    pass


class StoreError(SteadfastError):
    pass


class MigrationError(StoreError):
    pass


class JobNotFound(SteadfastError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}; list jobs with `steadfast jobs`")
        self.job_id = job_id


class IllegalTransition(SteadfastError):
    def __init__(self, job_id: str, status: str, action: str) -> None:
        super().__init__(f"cannot {action} job {job_id}: it is {status}")
        self.job_id = job_id
        self.status = status
        self.action = action


class NotWaiting(SteadfastError):
    """A human reply (answer, approval) for a job that is not waiting for that kind of reply."""


class LeaseLost(SteadfastError):
    def __init__(self, job_id: str, fence: int) -> None:
        super().__init__(
            f"lease on job {job_id} (fence {fence}) was lost: another worker owns it now; "
            "this worker stops writing"
        )
        self.job_id = job_id
        self.fence = fence


class LeadershipLost(SteadfastError):
    def __init__(self, name: str, holder: str, token: int) -> None:
        super().__init__(
            f"{holder} no longer holds the {name} lease (token {token}): another process took "
            "it over or it expired; this one stops writing in that role"
        )
        self.name = name
        self.holder = holder
        self.token = token


class StopRequested(SteadfastError):
    """Raised at a step boundary; `reason` is 'pause', 'cancel' or 'shutdown'."""

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"job {job_id} stops at this step boundary: {reason}")
        self.job_id = job_id
        self.reason = reason
